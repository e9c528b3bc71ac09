"""An archive import's warnings (of the whole file, not of a row: no metadata, simple Darwin Core,
a resource that is not a Camtrap DP table, occurrences derived from observations) are stored as
codes with parameters beside their English text: the ingest report shows them in the reader's
language with file names as data, while the API's message stays the English text it always
was; a run stored before there were codes shows its English text, marked as English."""

from __future__ import annotations

import re
from html import unescape

import pytest

from ecobridge.monitoring.reasons import reason
from ecobridge.web.render import translate
from web.i18n_check import assert_translated
from web.test_ingest_reasons import EXAMPLE, META, OCCURRENCES, _upload, _zip, client  # noqa: F401


def _warnings(html: str) -> list[tuple[str, str]]:
    """(code, text) of each warning the report shows."""
    return re.findall(r'<li data-warning="([^"]*)">(.*?)</li>', html, re.S)


def _run_id(location: str) -> int:
    return int(location.rsplit("/", 1)[-1])


@pytest.mark.parametrize("lang", ["zh", "ru"])
def test_a_simple_darwin_core_files_warnings_are_translated(client, store, lang):  # noqa: F811
    location = _upload(client, "bird-records", "birds.zip", _zip({"occurrence.txt": OCCURRENCES}),
                       kind="dwca")
    html = client.get(location, params={"lang": lang}).text
    assert_translated(html, f"a simple Darwin Core report in {lang}")
    expected = [reason("dwca-simple", meta="meta.xml", file="occurrence.txt"),
                reason("dwca-no-metadata", eml="EML")]
    shown = _warnings(html)
    assert [code for code, _ in shown] == [w.code for w in expected]
    for (_, text), warning in zip(shown, expected, strict=True):
        assert warning.text not in text
    simple = shown[0][1]
    assert translate(lang, "no %(meta)s: read %(file)s as simple Darwin Core, terms from its "
                     "header").split("%(")[0] in simple
    assert '<span translate="no">occurrence.txt</span>' in simple
    assert '<span translate="no">meta.xml</span>' in simple
    # the API and the stored message stay the English text, one warning after another
    message = client.get(f"/api/v1/ingest-runs/{_run_id(location)}").json()["message"]
    assert message == "; ".join(w.text for w in expected)
    assert message == ("no meta.xml: read occurrence.txt as simple Darwin Core, terms from its"
                       " header; the archive names no metadata (EML) file")


def test_a_camtrap_dp_packages_warnings_are_translated(client, store):  # noqa: F811
    package = _zip({p.name: p.read_bytes() for p in EXAMPLE.iterdir() if p.is_file()})
    location = _upload(client, "tiger-traps", "mica.zip", package)
    derived = store.scalar("SELECT count(*) FROM occurrences o JOIN datasets d"
                           " ON d.id = o.dataset_id WHERE d.slug = 'tiger-traps'")
    assert derived > 0
    for lang, words in (("zh", ("不是 Camtrap DP 数据表", "条出现记录")),
                        ("ru", ("не является таблицей Camtrap DP", "находок"))):
        html = client.get(location, params={"lang": lang}).text
        assert_translated(html, f"a Camtrap DP report in {lang}")
        shown = dict(_warnings(html))
        assert set(shown) == {"camtrap-resource-skipped", "camtrap-occurrences-derived"}
        assert words[0] in shown["camtrap-resource-skipped"]
        assert "<span translate=\"no\">&#39;individuals&#39;</span>" in \
            shown["camtrap-resource-skipped"]
        assert words[1] in shown["camtrap-occurrences-derived"]
        assert f'<span translate="no">{derived}</span>' in shown["camtrap-occurrences-derived"]
    english = dict(_warnings(client.get(location, params={"lang": "en"}).text))
    assert unescape(re.sub(r"<[^>]+>", "", english["camtrap-resource-skipped"])) == \
        "resource 'individuals' is not a Camtrap DP table: not imported"
    message = client.get(f"/api/v1/ingest-runs/{_run_id(location)}").json()["message"]
    assert f"{derived} occurrences derived from event-level animal observations" in message


def test_warnings_stored_before_there_were_codes_show_in_english(client, store):  # noqa: F811
    location = _upload(client, "bird-records", "birds.zip",
                       _zip({"meta.xml": META, "occurrence.txt": OCCURRENCES}))
    store.execute("UPDATE ingest_runs SET warning_codes = NULL WHERE id = ?",
                  [_run_id(location)])
    html = client.get(location, params={"lang": "zh"}).text
    assert_translated(html, "an old Darwin Core report in zh")
    assert _warnings(html) == [
        ("", '<span translate="no" lang="en">the archive names no metadata (EML) file</span>')]
