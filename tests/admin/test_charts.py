"""The SVG charts: pure functions of their data, scaled to the largest value, with every text escaped."""

import xml.etree.ElementTree as ElementTree

import pytest

from core.charts import TOP, axis, bar_chart, compact, hbar_chart, line_chart

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ElementTree.Element:
    return ElementTree.fromstring(svg)


def bars(svg: str) -> list[ElementTree.Element]:
    return [rect for rect in parse(svg).iter(f"{SVG}rect") if rect.get("class") == "bar"]


def test_a_bar_chart_draws_one_bar_per_point_in_order():
    svg = bar_chart([("Mon", 1), ("Tue", 4), ("Wed", 2)], label="Orders")

    drawn = bars(svg)
    assert [rect.find(f"{SVG}title").text for rect in drawn] == ["Mon: 1", "Tue: 4", "Wed: 2"]
    xs = [float(rect.get("x")) for rect in drawn]
    assert xs == sorted(xs)
    assert parse(svg).get("aria-label") == "Orders"


def test_bars_are_as_tall_as_their_values_and_share_a_baseline():
    drawn = bars(bar_chart([("a", 1), ("b", 4), ("c", 2)], height=220))

    heights = [float(rect.get("height")) for rect in drawn]
    assert heights[1] == 4 * heights[0] == 2 * heights[2]
    baselines = {round(float(rect.get("y")) + float(rect.get("height")), 1) for rect in drawn}
    assert len(baselines) == 1


def test_the_tallest_bar_reaches_a_round_top_of_the_axis():
    svg = bar_chart([("a", 8), ("b", 4)], height=220)

    tallest = max(float(rect.get("height")) for rect in bars(svg))
    baseline = float(bars(svg)[0].get("y")) + float(bars(svg)[0].get("height"))
    assert baseline - tallest == TOP  # 8 is a round top: the bar fills the plot
    assert [text.text for text in parse(svg).iter(f"{SVG}text")][:5] == ["0", "2", "4", "6", "8"]


def test_zero_and_negative_values_draw_empty_bars():
    heights = [float(rect.get("height")) for rect in bars(bar_chart([("a", 0), ("b", -5), ("c", 3)]))]

    assert heights[:2] == [0.0, 0.0]
    assert heights[2] > 0


def test_an_empty_chart_says_so():
    assert "No data" in bar_chart([])
    assert "No data" in hbar_chart([])
    assert "No samples yet" in line_chart({}, x_range=(0, 60))
    assert "No samples yet" in line_chart({"catalog": []}, x_range=(0, 60))


def test_labels_and_values_are_escaped():
    svg = bar_chart([("<script>alert(1)</script>", 1)], value_format=lambda value: "<b>1</b>")

    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg
    assert "&lt;b&gt;" in svg
    parse(svg)  # still well-formed XML
    assert "<script>" not in hbar_chart([("<script>", 1)])
    assert "<script>" not in line_chart({"<script>": [(0, 1), (1, 2)]}, x_range=(0, 1))


def test_long_bar_charts_label_every_few_bars():
    svg = bar_chart([(f"day {n}", n) for n in range(90)])

    day_labels = [text.text for text in parse(svg).iter(f"{SVG}text") if text.text.startswith("day")]
    assert len(bars(svg)) == 90
    assert 5 <= len(day_labels) <= 10
    assert day_labels[0] == "day 0"


def test_a_horizontal_bar_chart_lists_its_points_top_to_bottom_with_their_values():
    svg = hbar_chart([("Kettle", 30), ("Mug", 15)], value_format=lambda value: f"{value:.0f} sold")

    drawn = bars(svg)
    assert float(drawn[0].get("width")) == 2 * float(drawn[1].get("width"))
    assert float(drawn[0].get("y")) < float(drawn[1].get("y"))
    texts = [text.text for text in parse(svg).iter(f"{SVG}text")]
    assert texts == ["Kettle", "30 sold", "Mug", "15 sold"]


def test_a_horizontal_bar_chart_shortens_long_labels_but_keeps_them_in_the_tooltip():
    name = "A very long product name that goes on and on and on"

    svg = hbar_chart([(name, 3)])

    texts = [text.text for text in parse(svg).iter(f"{SVG}text")]
    assert texts[0].endswith("…") and len(texts[0]) == 34
    assert bars(svg)[0].find(f"{SVG}title").text == f"{name}: 3"


def test_a_line_chart_draws_one_line_per_series_within_the_plot():
    svg = line_chart(
        {"product_catalog": [(0, 0), (30, 10), (60, 5)], "daily_sales": [(0, 2), (60, 2)]},
        x_range=(0, 60),
        x_ticks=[(0, "12:00"), (60, "12:01")],
        width=720,
    )

    lines = list(parse(svg).iter(f"{SVG}polyline"))
    assert len(lines) == 2
    points = [tuple(map(float, pair.split(","))) for pair in lines[0].get("points").split()]
    assert len(points) == 3
    assert points[0][0] < points[1][0] < points[2][0] <= 720
    assert min(y for _, y in points) == TOP  # 10 is the axis' top
    texts = [text.text for text in parse(svg).iter(f"{SVG}text")]
    assert {"12:00", "12:01", "product_catalog", "daily_sales"} <= set(texts)


def test_a_series_of_one_sample_is_a_dot():
    svg = line_chart({"cache": [(30, 4)]}, x_range=(0, 60))

    assert len(list(parse(svg).iter(f"{SVG}circle"))) == 1
    assert not list(parse(svg).iter(f"{SVG}polyline"))


def test_axis_tops_are_round_and_steps_respect_a_minimum():
    assert axis(1234) == (1500, 500)
    assert axis(8) == (8, 2)
    assert axis(0) == (1, 1)
    assert axis(1, min_step=1) == (1, 1)
    assert axis(0.3) == (pytest.approx(0.3), pytest.approx(0.1))


def test_compact_numbers():
    assert [compact(value) for value in (0, 3.0, 12.5, 999, 1234, 2_500_000, 0.25)] == [
        "0",
        "3",
        "12.5",
        "999",
        "1.2k",
        "2.5M",
        "0.25",
    ]
