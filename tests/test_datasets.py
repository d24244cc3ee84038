"""Dataset importers: every format detected from content, errors named by file and line."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from training import datasets
from training.datasets import DatasetError
from training.scripts import script_counts

YOUTUBE = (
    "COMMENT_ID,AUTHOR,DATE,CONTENT,CLASS\n"
    'a1,Ann,2013-11-07T06:20:48,"\ufeffcheck out my channel",1\n'
    "a2,Bob,2013-11-07T06:21:00,love this song,0\n"
)
WXR = """<?xml version="1.0"?>
<rss xmlns:wp="http://wordpress.org/export/1.2/"><channel><item>
<wp:comment><wp:comment_author>Ann</wp:comment_author>
<wp:comment_content>Great recipe</wp:comment_content><wp:comment_approved>1</wp:comment_approved>
</wp:comment>
<wp:comment><wp:comment_content>cheap pills</wp:comment_content>
<wp:comment_author_url>http://rx.example</wp:comment_author_url>
<wp:comment_approved>spam</wp:comment_approved></wp:comment>
<wp:comment><wp:comment_content>pending one</wp:comment_content>
<wp:comment_approved>0</wp:comment_approved></wp:comment>
</item></channel></rss>
"""
DISQUS = """<?xml version="1.0" encoding="utf-8"?>
<disqus xmlns="http://disqus.com" xmlns:dsq="http://disqus.com/disqus-internals">
<thread dsq:id="1"><title>Post</title></thread>
<post dsq:id="10"><message><![CDATA[<p>Nice write-up, thanks</p>]]></message>
<isDeleted>false</isDeleted><isSpam>false</isSpam>
<author><name>Ann</name><email>ann@example.org</email></author><thread dsq:id="1"/></post>
<post dsq:id="11"><message><![CDATA[buy <a href="http://rx.example">pills</a>]]></message>
<isDeleted>false</isDeleted><isSpam>true</isSpam><thread dsq:id="1"/></post>
<post dsq:id="12"><message>removed by the author</message>
<isDeleted>true</isDeleted><isSpam>false</isSpam><thread dsq:id="1"/></post>
</disqus>
"""


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("yt.csv", YOUTUBE, [("\ufeffcheck out my channel", 1), ("love this song", 0)]),
        (
            "sms.txt",
            "ham\thello there\nspam\tWIN a prize\n",
            [("hello there", 0), ("WIN a prize", 1)],
        ),
        (
            "c.csv",
            "label,content,author\nspam,buy now,X\nham,nice,Y\n",
            [("buy now", 1), ("nice", 0)],
        ),
        (
            "j.jsonl",
            json.dumps({"content": "a", "label": "ham"})
            + "\n\n"
            + json.dumps({"content": "b", "label": 1}),
            [("a", 0), ("b", 1)],
        ),
        ("export.xml", WXR, [("Great recipe", 0), ("cheap pills", 1)]),
        (
            "disqus.xml",
            DISQUS,
            [("<p>Nice write-up, thanks</p>", 0), ('buy <a href="http://rx.example">pills</a>', 1)],
        ),
    ],
)
def test_formats(tmp_path: Path, name: str, text: str, expected: list) -> None:
    (tmp_path / name).write_text(text, encoding="utf-8")
    examples = datasets.load([tmp_path / name], starter=False)
    assert [(e.record["content"], e.label) for e in examples] == expected


def test_folder_reads_every_dataset_and_skips_other_files(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text(YOUTUBE)
    (tmp_path / "notes.txt").write_text("just some notes\n")
    (tmp_path / "README.md").write_text("# readme")
    examples = datasets.load([tmp_path], starter=False)
    assert len(examples) == 2


def test_starter_corpus_is_big_and_balanced_enough() -> None:
    examples = datasets.load([], starter=True)
    spam = sum(e.label for e in examples)
    assert len(examples) >= 1000
    assert 0.3 < spam / len(examples) < 0.7


def test_starter_corpus_covers_languages_scripts_and_metadata() -> None:
    examples = datasets.load([], starter=True)
    languages = {e.record["lang"] for e in examples if "lang" in e.record}
    assert len(languages) >= 6
    scripts = Counter(
        script_counts(e.record["content"]).most_common(1)[0][0]
        for e in examples
        if script_counts(e.record["content"])
    )
    assert len([s for s, n in scripts.items() if s != "latin" and n >= 3]) >= 2
    for field in ("author", "author_email", "author_url"):
        with_field = [e.label for e in examples if e.record.get(field)]
        assert 0 < sum(with_field) < len(with_field)  # both classes have it


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("label,content\nmaybe,x\n", "c.csv:2: label 'maybe'"),
        ("what is this\n", "unknown format"),
        ('{"content": "x", "label": "spam"}\n{oops\n', "c.csv:2: not JSON"),
        ('<rss xmlns:wp="http://wordpress.org/export/1.2/"><unclosed>', "not well-formed XML"),
        ('<disqus xmlns="http://disqus.com"><post>', "not well-formed XML"),
    ],
)
def test_errors_name_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "c.csv").write_text(text)
    with pytest.raises(DatasetError, match=message):
        datasets.load([tmp_path / "c.csv"], starter=False)


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no such file"):
        datasets.load([tmp_path / "nope"], starter=False)


def test_fingerprint_ignores_order() -> None:
    a = datasets.Example({"content": "x"}, 1)
    b = datasets.Example({"content": "y"}, 0)
    assert datasets.fingerprint([a, b]) == datasets.fingerprint([b, a])
    assert datasets.fingerprint([a]) != datasets.fingerprint([b])
