"""The inline SVG chart helpers: escaping, gaps, scaling."""

from __future__ import annotations

from datetime import date, timedelta

from sentiment_service.dashboard.charts import Series, bar, line_chart

WEEKS = [date(2026, 9, 7) + timedelta(days=7 * i) for i in range(4)]


def test_line_chart_escapes_text_and_breaks_lines_at_gaps() -> None:
    svg = str(
        line_chart(
            [
                Series("all", list(zip(WEEKS, [0.2, None, -0.4, 0.6], strict=True))),
                Series("<script>x</script>", list(zip(WEEKS, [0.1, 0.3, 0.2, 0.0], strict=True))),
            ],
            title='Trend "A" & <B>',
            description="desc",
            chart_id="t1",
        )
    )
    assert svg.startswith('<svg class="chart"') and svg.endswith("</svg>")
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert (
        "Trend &#34;A&#34; &amp; &lt;B&gt;" in svg or "Trend &quot;A&quot; &amp; &lt;B&gt;" in svg
    )
    assert 'role="img"' in svg and 'aria-labelledby="t1-title t1-desc"' in svg
    # "all" has a gap: one lone point and one two-point line; the other series one line
    assert svg.count("<polyline") == 2
    assert svg.count("<circle") == 7
    assert " style=" not in svg


def test_line_chart_clips_values_and_handles_a_single_week() -> None:
    svg = str(line_chart([Series("chat", [(WEEKS[0], 3.0)])], title="t", description="d"))
    assert svg.count("<circle") == 1 and "<polyline" not in svg


def test_bar_scales_track_and_fill() -> None:
    svg = str(bar(5.0, 10.0, 20.0, label="Billing <talk>"))
    assert 'width="50.00"' in svg and 'width="25.00"' in svg
    assert "Billing &lt;talk&gt;" in svg
    full = str(bar(30.0, 10.0, 20.0, label="x"))
    assert full.count('width="50.00"') == 2  # the fill never passes its track
