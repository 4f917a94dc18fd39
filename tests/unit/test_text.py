from sereno.verify.text import CleanText, TextProblem, clean_text


def test_control_and_invisible_characters_are_removed() -> None:
    result = clean_text("5th\x00 &\u200b Main\u202e\x07", 100)
    assert result == CleanText("5th & Main", truncated=False)


def test_newlines_survive_but_blank_runs_collapse() -> None:
    assert clean_text("  two   vans \n\n\n parked  ", 100) == CleanText("two vans\nparked", truncated=False)


def test_long_text_is_bounded_and_flagged() -> None:
    result = clean_text("a" * 5000, 1000)
    assert isinstance(result, CleanText)
    assert len(result.text) == 1000 and result.truncated


def test_emoji_only_text_is_refused() -> None:
    assert clean_text("🚨🚨🚓", 100) is TextProblem.NO_WORDS
    assert clean_text("?!…", 100) is TextProblem.NO_WORDS


def test_empty_and_whitespace_only_text_is_refused() -> None:
    assert clean_text("", 100) is TextProblem.EMPTY
    assert clean_text(None, 100) is TextProblem.EMPTY
    assert clean_text(" \u200b\u200d\t ", 100) is TextProblem.EMPTY


def test_non_latin_scripts_are_words() -> None:
    assert clean_text("الشارع الخامس", 100) == CleanText("الشارع الخامس", truncated=False)
    assert clean_text("第五街", 100) == CleanText("第五街", truncated=False)
