// Gerbang ops: the little behaviour the pages need, kept out of the HTML so that the
// Content-Security-Policy can forbid inline script. New messages appear by short polling
// (every 2 s) of the page's JSON twin; text is inserted as text, never as HTML.
(function () {
  "use strict";
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });

  function poll(url, every, apply) {
    function tick() {
      fetch(url(), { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) { if (data) { apply(data); } })
        .catch(function () { /* the next tick tries again */ })
        .finally(function () { setTimeout(tick, every); });
    }
    setTimeout(tick, every);
  }

  var WHO = { citizen: "Warga", bot: "Bot", system: "·" };

  var conversation = document.getElementById("conversation");
  if (conversation) {
    var list = document.getElementById("transcript");
    var last = 0;
    list.querySelectorAll("li[data-at]").forEach(function (li) {
      last = Math.max(last, parseFloat(li.getAttribute("data-at")));
    });
    poll(function () { return conversation.getAttribute("data-live") + "?after=" + last; }, 2000,
      function (data) {
        data.entries.forEach(function (e) {
          if (list.querySelector('li[data-id="' + CSS.escape(e.id) + '"]')) { return; }
          var li = document.createElement("li");
          li.className = "msg " + e.who;
          li.setAttribute("data-id", e.id);
          li.setAttribute("data-at", e.at);
          var who = document.createElement("span");
          who.className = "who";
          who.textContent = e.who === "staff" ? (e.by || "Petugas") : (WHO[e.who] || e.who);
          var body = document.createElement("span");
          body.className = "body";
          body.textContent = e.text;
          if (e.who !== "system") { li.appendChild(who); }
          li.appendChild(body);
          list.appendChild(li);
          last = Math.max(last, e.at);
        });
        var left = conversation.querySelector("[data-window-left]");
        if (left) { left.textContent = data.window; }
        // Claimed or closed elsewhere: the forms on this page are stale, show the new ones.
        var held = conversation.getAttribute("data-held") === "1";
        if (data.holder !== conversation.getAttribute("data-holder") || data.held !== held) {
          var typing = document.getElementById("reply-text");
          if (!typing || !typing.value) { window.location.reload(); }
        }
      });
    var quick = document.getElementById("quick");
    if (quick) {
      quick.addEventListener("change", function () {
        var box = document.getElementById("reply-text");
        if (quick.value) { box.value = (box.value ? box.value + "\n\n" : "") + quick.value; }
        quick.value = "";
        box.focus();
      });
    }
  }

  var inbox = document.getElementById("inbox");
  if (inbox) {
    var waiting = document.getElementById("waiting");
    var base = window.location.pathname.replace(/\/$/, "");
    poll(function () { return inbox.getAttribute("data-live"); }, 3000, function (data) {
      var items = data.rows.map(function (row) {
        var li = document.createElement("li");
        li.className = "item conv" + (row.holder ? "" : " unclaimed");
        li.setAttribute("data-conv", row.conv);
        var a = document.createElement("a");
        a.className = "meta";
        a.href = base + "/" + row.conv;
        var strong = document.createElement("strong");
        strong.textContent = row.phone;
        var tag = document.createElement("span");
        tag.className = row.holder ? "tag ok" : "tag urgent";
        tag.textContent = row.holder || "belum diambil";
        var meta = document.createElement("span");
        meta.className = "muted";
        meta.textContent = "menunggu " + row.waited + " · sejak " + row.since +
          " · jendela 24 jam: " + row.window;
        a.appendChild(strong); a.appendChild(tag); a.appendChild(meta);
        var p = document.createElement("p");
        p.className = "text";
        p.textContent = row.last;
        li.appendChild(a); li.appendChild(p);
        return li;
      });
      waiting.replaceChildren.apply(waiting, items);
      inbox.querySelector('[data-empty="inbox"]').hidden = items.length > 0;
    });
  }

  // A form that asks before it goes (stopping a broadcast).
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  });

  // Broadcast reports: a running broadcast's counts follow its JSON twin until it ends.
  var COUNTS = ["targeted", "queued", "skipped", "withheld", "sent", "delivered", "read",
    "failed"];
  // After it ends, Meta's statuses still come in for a while: a minute more.
  document.querySelectorAll('tr[data-broadcast][data-state="running"]').forEach(function (row) {
    var after = 30;
    function tick() {
      fetch(row.getAttribute("data-live"),
        { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          if (!data) { return; }
          COUNTS.forEach(function (col) {
            var cell = row.querySelector('td[data-col="' + col + '"]');
            if (cell) { cell.textContent = String(data[col]); }
          });
          var live = data.state === "running" || (after -= 1) > 0;
          if (data.state !== "running") {
            row.setAttribute("data-state", data.state);
            var tag = row.querySelector('[data-col="state"]');
            tag.textContent = data.state === "done" ? "selesai diantre" : "dihentikan";
            tag.className = data.state === "done" ? "tag ok" : "tag";
            var stop = row.querySelector("form[data-confirm]");
            if (stop) { stop.remove(); }
          }
          return live;
        })
        .then(function (again) { if (again !== false) { setTimeout(tick, 2000); } },
              function () { setTimeout(tick, 2000); });
    }
    setTimeout(tick, 2000);
  });
})();
