"""The /ops preview formats a text as WhatsApp shows it, and escapes everything else."""

from __future__ import annotations

import pytest

from gerbang_gateway.ops.wa_format import whatsapp_html


@pytest.mark.parametrize(
    ("text", "html"),
    [
        ("*Syarat* paspor", "<p><strong>Syarat</strong> paspor</p>"),
        ("bawa _asli_ ya", "<p>bawa <em>asli</em> ya</p>"),
        ("~lama~ ```kode```", "<p><del>lama</del> <code>kode</code></p>"),
        ("a\nb\n\nc", "<p>a<br>b</p><p>c</p>"),
        ("• satu\n• *dua*", "<ul><li>satu</li><li><strong>dua</strong></li></ul>"),
        ("- a\n* b", "<ul><li>a</li><li>b</li></ul>"),
        ("1. a\n2. b\nlalu", "<ol><li>a</li><li>b</li></ol><p>lalu</p>"),
        ("2*3*4 and snake_case_name", "<p>2*3*4 and snake_case_name</p>"),
        ("* tidak tebal", "<ul><li>tidak tebal</li></ul>"),
        (
            "lihat https://www.imigrasi.go.id/a_b_c.",
            '<p>lihat <a href="https://www.imigrasi.go.id/a_b_c" rel="noopener noreferrer" '
            'target="_blank">https://www.imigrasi.go.id/a_b_c</a>.</p>',
        ),
        (
            "<script>alert(1)</script> & *<b>*",
            "<p>&lt;script&gt;alert(1)&lt;/script&gt; &amp; <strong>&lt;b&gt;</strong></p>",
        ),
    ],
)
def test_whatsapp_formatting(text: str, html: str) -> None:
    assert str(whatsapp_html(text)) == html


def test_a_link_cannot_break_out_of_its_attribute() -> None:
    out = str(whatsapp_html('https://x.id/"onmouseover="alert(1)'))
    assert "<a " in out and 'onmouseover="' not in out and "&quot;onmouseover" in out
