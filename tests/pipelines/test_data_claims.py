"""Claims about the plotted data: extrema, trends, comparisons and counts, against real traces."""

from __future__ import annotations

import numpy as np
import pytest

from pipelines.data_claims import extract, trend_of, turns
from pipelines.facts import facts_from_trace
from pipelines.grounding import check

SINE = """import numpy as np
import matplotlib.pyplot as plt
x = np.linspace(0, 2 * np.pi, 400)
fig, ax = plt.subplots()
ax.plot(x, np.sin(x), color="tab:blue", label="sin x")
ax.plot(x, 0.5 * x, color="tab:red", label="x / 2")
ax.set_xticks([0, 1, 2, 3, 4, 5, 6, 7, 8])
ax.legend()
plt.show()
"""
BARS = """import matplotlib.pyplot as plt
days = ["Mon", "Tue", "Wed", "Thu", "Fri"]
fig, ax = plt.subplots()
ax.bar(days, [3, 5, 9, 4, 2])
plt.show()
"""


@pytest.fixture(scope="module")
def traced(unit_sandbox):
    return {name: facts_from_trace(unit_sandbox.run(code, trace=True).trace)
            for name, code in (("sine", SINE), ("bars", BARS))}


@pytest.mark.parametrize("caption, wrong", [
    ("The curve 'sin x' reaches a maximum of 1 at x = 1.57 and a minimum of -1 at x = 4.71.", []),
    ("'sin x' has its maximum at x = π/2.", []),
    ("'sin x' peaks at x = 1.57.", []),
    # The case: 1 and 8 are ticks of the axis, and sin x has no maximum near x = 8.
    ("'sin x' has a maximum of 1 near x = 8.", ["maximum of 1 near x = 8"]),
    ("'sin x' has a minimum of -1 at x = 5.", ["minimum of -1 at x = 5"]),
    ("'sin x' has a maximum of 2 at x = 1.57.", ["maximum of 2 at x = 1.57"]),
    ("The line 'x / 2' is rising.", []),
    ("The line 'x / 2' is falling.", ["falling"]),
    ("'sin x' is falling from x = 1.57 to x = 4.71.", []),
    ("'sin x' is rising from x = 1.57 to x = 4.71.", ["rising from x = 1.57 to x = 4.71"]),
    ("'sin x' shows 1 peak and crosses zero 1 time.", []),
    ("'sin x' shows 10 oscillations.", ["10 oscillations"]),
    ("'sin x' shows 4 peaks.", ["4 peaks"]),
])
def test_claims_about_curves(traced, caption, wrong):
    found = check(caption, traced["sine"], SINE)
    assert found.ungrounded == wrong and found.claims >= 1


@pytest.mark.parametrize("caption, wrong", [
    # sin x = x / 2 at x = 0 and at x = 1.8955, y = 0.948
    ("'sin x' and 'x / 2' cross at x = 1.9.", []),
    ("'sin x' and 'x / 2' intersect at (1.9, 0.95).", []),
    ("'x / 2' crosses 'sin x' twice.", []),
    ("'sin x' and 'x / 2' cross at x = 3.", ["'sin x' and 'x / 2' cross at x = 3"]),
    ("'sin x' and 'x / 2' intersect at (1.9, 0.5).", ["'sin x' and 'x / 2' intersect at (1.9, 0.5)"]),
    ("'sin x' and 'x / 2' meet 3 times.", ["'sin x' and 'x / 2' meet 3 times"]),
    ("'sin x' and 'cos x' cross at x = 0.785.", ["'sin x' and 'cos x' cross at x = 0.785", "cos x"]),
])
def test_where_two_curves_intersect(traced, caption, wrong):
    found = check(caption, traced["sine"], SINE)
    assert sorted(found.ungrounded) == sorted(wrong) and found.claims >= 3


@pytest.mark.parametrize("caption, wrong", [
    ("The tallest bar is Wed.", []),
    ("The tallest bar is 'Mon'.", ["tallest bar is 'Mon'"]),  # 'Mon' is drawn, as a tick label
    ("The shortest bar is Fri, and Tue is higher than Thu.", []),
    ("Mon is taller than Tue.", ["Mon is taller than Tue"]),
    ("The bars have a maximum of 9.", []),
])
def test_claims_about_bars(traced, caption, wrong):
    found = check(caption, traced["bars"], BARS)
    assert found.ungrounded == wrong


def test_a_number_inside_a_claim_about_the_data_is_that_claims_not_a_literal(traced):
    # "1" and "8" are ticks: as literals they would pass; bound to the data they fail together.
    found = check("'sin x' has a maximum of 1 near x = 8.", traced["sine"], SINE)
    assert found.claims == 2  # the quoted label, and the one claim about the data


def test_without_data_a_claim_about_it_binds_to_nothing(unit_sandbox):
    code = "import matplotlib.pyplot as plt\nplt.text(0.5, 0.5, 'x = 8, y = 1')\n"
    facts = facts_from_trace(unit_sandbox.run(code, trace=True).trace)
    assert check("A maximum of 1 at x = 8.", facts, code).ungrounded == ["maximum of 1 at x = 8"]


def test_shapes_of_curves():
    t = np.linspace(0, 10, 400)
    assert trend_of(np.exp(-0.3 * t) * np.cos(3 * t)) >= {"oscillating", "decaying"}
    assert trend_of(1 - np.exp(-t)) == {"rising"}
    assert "decaying" in trend_of(np.exp(-t)) and "falling" in trend_of(np.exp(-t))
    assert len(turns(np.sin(t))[0]) == 2 and not trend_of(np.sin(t) * 0)


def test_extraction_reads_ranges_labels_and_counts():
    (trend,) = extract("It decays from t = 0 to t = 5.")
    assert (trend.what, trend.between) == ("decaying", (0.0, 5.0))
    (count,) = extract("The signal crosses zero three times.")
    assert (count.what, count.value) == ("crossing", 3.0)
    assert extract("Energy is higher than before.", bar_labels={"Mon"}) == []


SHAPES = """import matplotlib.pyplot as plt
from matplotlib.patches import Circle, Polygon, Rectangle
fig, ax = plt.subplots()
ax.add_patch(Circle((0, 0), 1, fill=False))
ax.add_patch(Polygon([[2, 0], [4, 0], [3, 2]], color="tab:green", alpha=0.4))
ax.add_patch(Rectangle((-3, -1), 1.5, 2, fill=False))
for x, y, name in [(0.1, 0.2, "O"), (3, 0.6, "T"), (-2.2, 0, "R"), (1.5, 1.5, "P")]:
    ax.text(x, y, name)
ax.set_xlim(-4, 5)
ax.set_ylim(-2, 3)
ax.axis("off")
plt.show()
"""


@pytest.mark.parametrize("caption, wrong", [
    ("'O' is inside the circle, and 'T' lies inside the triangle.", []),
    ("'R' is inside the rectangle; 'P' is outside the circle.", []),
    ("'P' lies inside the circle.", ["'P' lies inside the circle"]),
    ("'T' lies inside the rectangle.", ["'T' lies inside the rectangle"]),
    ("'O' is outside the circle.", ["'O' is outside the circle"]),
    ("'O' is inside the hexagon.", ["'O' is inside the hexagon"]),  # no hexagon is drawn
    ("'Q' is inside the circle.", ["'Q' is inside the circle", "Q"]),  # no such label
])
def test_labels_inside_shapes(unit_sandbox, caption, wrong):
    facts = facts_from_trace(unit_sandbox.run(SHAPES, trace=True).trace)
    assert sorted(check(caption, facts, SHAPES).ungrounded) == sorted(wrong)
