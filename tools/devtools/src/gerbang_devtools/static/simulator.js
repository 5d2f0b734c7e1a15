// Gerbang WhatsApp simulator: plain JavaScript, no build step.
// Sends the citizen's messages through POST /simulator/send (a real signed webhook) and
// polls GET /simulator/replies for what the office sent back through the fake Graph API.
(function () {
  "use strict";
  var officeSelect = document.getElementById("office");
  var citizenInput = document.getElementById("citizen");
  var messages = document.getElementById("messages");
  var composer = document.getElementById("composer");
  var textInput = document.getElementById("text");
  var sheet = document.getElementById("sheet");
  var sheetTitle = document.getElementById("sheet-title");
  var sheetBody = document.getElementById("sheet-body");
  var since = null;
  var generation = 0;
  var pollTimer = null;

  function randomCitizen() {
    var digits = "";
    for (var i = 0; i < 8; i++) digits += Math.floor(Math.random() * 10);
    return "62812" + digits;
  }

  function escapeHtml(text) {
    return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
  }

  // WhatsApp formatting: *bold*, _italic_, ~strike~, ```mono``` (on escaped text).
  function formatWhatsApp(text) {
    var html = escapeHtml(text || "");
    html = html.replace(/```([\s\S]+?)```/g, "<code>$1</code>");
    html = html.replace(/(^|[\s(])\*([^*\n]+)\*(?=$|[\s).,!?:;])/g, "$1<b>$2</b>");
    html = html.replace(/(^|[\s(])_([^_\n]+)_(?=$|[\s).,!?:;])/g, "$1<i>$2</i>");
    html = html.replace(/(^|[\s(])~([^~\n]+)~(?=$|[\s).,!?:;])/g, "$1<s>$2</s>");
    return html;
  }

  function time(at) {
    var d = at ? new Date(at) : new Date();
    return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function bubble(side, html, at) {
    var el = document.createElement("div");
    el.className = "msg " + side;
    el.innerHTML = '<div class="content">' + html + '</div><span class="time">' + time(at) + "</span>";
    messages.appendChild(el);
    messages.scrollTop = messages.scrollHeight;
    return el;
  }

  function note(text) {
    var el = document.createElement("div");
    el.className = "note";
    el.textContent = text;
    messages.appendChild(el);
    messages.scrollTop = messages.scrollHeight;
  }

  function frame(interactive) {
    var html = "";
    if (interactive.header && interactive.header.text) {
      html += '<div class="header">' + formatWhatsApp(interactive.header.text) + "</div>";
    }
    html += '<div class="body">' + formatWhatsApp(interactive.body ? interactive.body.text : "") + "</div>";
    if (interactive.footer && interactive.footer.text) {
      html += '<div class="footer">' + formatWhatsApp(interactive.footer.text) + "</div>";
    }
    return html;
  }

  function renderReply(record) {
    var payload = record.payload;
    if (payload.type === "text") {
      bubble("office", formatWhatsApp(payload.text.body), record.at);
    } else if (payload.type === "interactive" && payload.interactive.type === "list") {
      renderList(payload.interactive, record.at);
    } else if (payload.type === "interactive" && payload.interactive.type === "button") {
      renderButtons(payload.interactive, record.at);
    } else if (payload.type === "template") {
      var t = payload.template;
      var params = [];
      (t.components || []).forEach(function (c) {
        (c.parameters || []).forEach(function (p) { params.push(p.text || JSON.stringify(p)); });
      });
      bubble("office", '<div class="template">Template <b>' + escapeHtml(t.name) + "</b> (" +
        escapeHtml(t.language.code) + ")</div>" + escapeHtml(params.join(" · ")), record.at);
    } else {
      bubble("office", "<pre>" + escapeHtml(JSON.stringify(payload, null, 2)) + "</pre>", record.at);
    }
  }

  function renderList(interactive, at) {
    var el = bubble("office", frame(interactive), at);
    el.classList.add("interactive");
    var open = document.createElement("button");
    open.type = "button";
    open.className = "list-open";
    open.textContent = "☰ " + interactive.action.button;
    open.addEventListener("click", function () { openSheet(interactive); });
    el.appendChild(open);
  }

  function renderButtons(interactive, at) {
    var el = bubble("office", frame(interactive), at);
    el.classList.add("interactive");
    var box = document.createElement("div");
    box.className = "reply-buttons";
    interactive.action.buttons.forEach(function (button) {
      var b = document.createElement("button");
      b.type = "button";
      b.className = "reply-button";
      b.textContent = button.reply.title;
      b.addEventListener("click", function () {
        sendMessage({ reply_id: button.reply.id, title: button.reply.title, kind: "button_reply" },
          button.reply.title);
      });
      box.appendChild(b);
    });
    el.appendChild(box);
  }

  function openSheet(interactive) {
    sheetTitle.textContent = interactive.action.button;
    sheetBody.innerHTML = "";
    interactive.action.sections.forEach(function (section) {
      if (section.title) {
        var h = document.createElement("div");
        h.className = "section-title";
        h.textContent = section.title;
        sheetBody.appendChild(h);
      }
      section.rows.forEach(function (row) {
        var r = document.createElement("button");
        r.type = "button";
        r.className = "row-option";
        r.setAttribute("data-row-id", row.id);
        r.innerHTML = '<span class="row-title">' + escapeHtml(row.title) + "</span>" +
          (row.description ? '<span class="row-desc">' + escapeHtml(row.description) + "</span>" : "");
        r.addEventListener("click", function () {
          closeSheet();
          sendMessage({ reply_id: row.id, title: row.title, kind: "list_reply" }, row.title);
        });
        sheetBody.appendChild(r);
      });
    });
    sheet.hidden = false;
  }

  function closeSheet() { sheet.hidden = true; }

  function conversation() {
    return { office: officeSelect.value, wa_id: citizenInput.value.trim() };
  }

  function sendMessage(fields, shown) {
    var conv = conversation();
    if (!/^\d{8,15}$/.test(conv.wa_id)) { note("Nomor warga harus 8–15 angka."); return; }
    bubble("citizen", formatWhatsApp(shown));
    var body = Object.assign({ office: conv.office, wa_id: conv.wa_id }, fields);
    fetch("/simulator/send", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().then(function (data) {
        if (!response.ok || !data.ok) {
          note("Gateway menolak pesan (" + (data.webhook_status || response.status) + ")");
        }
      });
    }).catch(function (error) { note("Gagal mengirim: " + error); });
    poll();
  }

  // One poll at a time: two concurrent polls from the same index would show a reply twice.
  var inflight = false;
  function poll() {
    if (pollTimer) clearTimeout(pollTimer);
    var conv = conversation();
    var mine = generation;
    if (inflight) return;
    if (since === null || !/^\d{8,15}$/.test(conv.wa_id)) { schedule(); return; }
    var url = "/simulator/replies?office=" + encodeURIComponent(conv.office) +
      "&wa_id=" + encodeURIComponent(conv.wa_id) + "&since=" + since;
    inflight = true;
    fetch(url).then(function (r) { return r.json(); }).then(function (data) {
      if (mine !== generation || data.error) return;
      data.messages.forEach(renderReply);
      since = data.next;
    }).catch(function () { /* the next poll tries again */ }).then(function () {
      inflight = false;
      schedule();
    });
  }

  function schedule() {
    if (pollTimer) clearTimeout(pollTimer);
    pollTimer = setTimeout(poll, document.hidden ? 3000 : 700);
  }

  function startConversation() {
    generation += 1;
    since = null;
    messages.innerHTML = "";
    var option = officeSelect.options[officeSelect.selectedIndex];
    document.getElementById("chat-title").textContent =
      option.getAttribute("data-service") + " · " + option.getAttribute("data-name");
    document.getElementById("chat-sub").textContent = option.getAttribute("data-number") +
      " · Anda: +" + citizenInput.value;
    note("Ketik \"menu\" untuk melihat layanan, atau tulis pertanyaan Anda.");
    var mine = generation;
    var conv = conversation();
    fetch("/simulator/replies?office=" + encodeURIComponent(conv.office) + "&wa_id=" +
      encodeURIComponent(conv.wa_id)).then(function (r) { return r.json(); }).then(function (data) {
      if (mine === generation && typeof data.next === "number") { since = data.next; }
    }).catch(function (error) { note("Fake Graph API tidak terjangkau: " + error); })
      .then(schedule);
  }

  composer.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = textInput.value.trim();
    if (!text) return;
    textInput.value = "";
    sendMessage({ text: text }, text);
  });
  officeSelect.addEventListener("change", startConversation);
  citizenInput.addEventListener("change", startConversation);
  document.getElementById("new-citizen").addEventListener("click", function () {
    citizenInput.value = randomCitizen();
    startConversation();
  });
  document.getElementById("sheet-close").addEventListener("click", closeSheet);
  sheet.addEventListener("click", function (event) { if (event.target === sheet) closeSheet(); });

  citizenInput.value = randomCitizen();
  startConversation();
})();
