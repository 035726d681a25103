"""Hypothesis strategies for valid scenarios, built section by section from the schema's rules.

``scenarios()`` draws a complete scenario as plain YAML data together with the
data files it names (traces, ``empirical`` files): every distribution family
(mixtures included), every way reads and writes arrive (rate, steps, diurnal,
trace; interval, rate, at, trace), every sync strategy and routing policy,
failures, stalls, autoscaling, keys, clients, timeouts, read-backs, costs and
limits. Sizes stay small (a few simulated seconds, tens of reads per second,
a handful of replicas), so that each example runs in a fraction of a second.

Each rule the schema states across keys (sticky routing needs clients, a
batch no larger than the pool, an autoscaled pool starting inside [min, max],
apply times only with writes, ...) is obeyed by construction, not filtered,
so that nearly every draw is a scenario the loader must accept.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

#: a data file named in a scenario: file name -> CSV text
Files = dict[str, str]

FAMILIES = ("constant", "exponential", "uniform", "normal", "lognormal", "gamma", "weibull", "pareto", "empirical",
            "mixture")
POLICIES = ("round_robin", "random", "least_outstanding", "power_of_two", "sticky")
REPLICA_POLICIES = ("round_robin", "random", "least_outstanding", "power_of_two", "prefer_fresh", "sticky")
STRATEGIES = ("rolling", "all_at_once", "blue_green", "projection")


class Drawn:
    """What one draw builds besides the YAML: the data files, named in order."""

    def __init__(self) -> None:
        self.files: Files = {}

    def file(self, text: str, suffix: str = "csv") -> str:
        name = f"data{len(self.files)}.{suffix}"
        self.files[name] = text
        return name


def reals(low: float, high: float, exclude_max: bool = False) -> st.SearchStrategy[float]:
    """Numbers in [low, high], with those closer to 0 than 1e-9 taken as 0: a duration, rate or price that is not
    0 must be at least 1e-12 (and hypothesis likes to try 5e-324)."""
    return st.floats(low, high, allow_nan=False, allow_infinity=False, exclude_max=exclude_max).map(
        lambda x: 0.0 if abs(x) < 1e-9 else x)


def duration(draw, low: float, high: float) -> Any:
    """A duration in [low, high] seconds, written as a number of seconds or with a unit."""
    seconds = draw(reals(low, high))
    form = draw(st.sampled_from(["s", "ms", "number"]))
    if form == "number" or seconds == 0:
        return seconds
    return f"{seconds:.6g}s" if form == "s" else f"{seconds * 1000:.6g}ms"


def distribution(draw, drawn: Drawn, mean: float, *, positive: bool = True, families=FAMILIES, part: bool = False):
    """One distribution of about ``mean`` seconds (a positive mean unless ``positive`` is False)."""
    if not positive and draw(st.integers(0, 3)) == 0:  # no time at all: events at the same instant
        return {"dist": "constant", "value": 0} if part else 0
    family = draw(st.sampled_from(families))
    low = mean * 0.2
    if family == "constant":
        value = duration(draw, low if positive else 0.0, mean * 2)
        return value if draw(st.booleans()) and not part else {"dist": "constant", "value": value}
    if family == "exponential":
        return {"dist": "exponential", "mean": duration(draw, low, mean * 2)}
    if family == "uniform":
        a = draw(reals(0.0, mean))
        b = a + draw(reals(0.0 if not positive or a > 0 else low, mean * 2))
        return {"dist": "uniform", "low": a, "high": b}
    if family == "normal":
        return {"dist": "normal", "mean": duration(draw, low, mean * 2), "sd": duration(draw, 0.0, mean)}
    if family in ("lognormal", "gamma", "weibull"):
        cv = draw(st.one_of(st.just(0.0), st.floats(1e-6, 3.0), st.floats(3.0, 100.0)))
        return {"dist": family, "mean": duration(draw, low, mean * 2), "cv": cv}
    if family == "pareto":
        shape = draw(st.one_of(st.floats(1.05, 3.0), st.floats(3.0, 1000.0)))
        return {"dist": "pareto", "scale": duration(draw, low, mean), "shape": shape}
    if family == "empirical":
        values = draw(st.lists(reals(low if positive else 0.0, mean * 3), min_size=1, max_size=6))
        if draw(st.booleans()):
            return {"dist": "empirical", "samples": values}
        unit = draw(st.sampled_from(["s", "ms", "us"]))
        scale = {"s": 1.0, "ms": 1e3, "us": 1e6}[unit]
        name = drawn.file("v\n" + "".join(f"{v * scale!r}\n" for v in values))
        return {"dist": "empirical", "file": name, "column": "v", "unit": unit}
    count = draw(st.integers(1, 3))
    shares = draw(st.lists(st.integers(1, 10), min_size=count, max_size=count))
    weights = [s / sum(shares) for s in shares]
    weights[-1] = 1.0 - sum(weights[:-1])
    parts = []
    for weight in weights:
        component = distribution(draw, drawn, mean, positive=positive, families=FAMILIES[:-1], part=True)
        parts.append({**component, "weight": weight})
    return {"dist": "mixture", "components": parts}


def _times_csv(draw, span: float, count: int, must_hit: tuple[float, float], columns: dict[str, list]) -> str:
    """A trace file: ``count`` sorted arrival times in [0, span), at least one in ``must_hit``, and extra columns."""
    times = sorted(draw(st.lists(reals(0.0, span, exclude_max=True), min_size=count - 1, max_size=count - 1))
                   + [draw(reals(*must_hit, exclude_max=True))])
    repeated = list(times)
    for i in draw(st.lists(st.integers(1, count - 1), max_size=2)) if count > 1 else []:
        repeated[i] = repeated[i - 1]  # arrivals at the same instant
    if any(must_hit[0] <= t < must_hit[1] for t in repeated):
        times = repeated
    header = ",".join(["time", *columns])
    rows = [",".join([repr(t), *(repr(values[i]) for values in columns.values())]) for i, t in enumerate(times)]
    return header + "\n" + "\n".join(rows) + "\n"


@st.composite
def scenarios(draw) -> tuple[dict, Files]:
    """(scenario data, data files) of a valid scenario of a few simulated seconds."""
    drawn = Drawn()
    length = draw(st.floats(1.0, 4.0))
    warmup = draw(st.sampled_from([0.0, 0.0, round(length * 0.2, 6)]))
    data: dict[str, Any] = {"duration": duration(draw, length, length), "warmup": warmup,
                            "seed": draw(st.integers(0, 2**31)), "replications": draw(st.integers(1, 2)),
                            "architectures": draw(st.sampled_from([["crud", "cqrs"], ["cqrs", "crud"], ["crud"],
                                                                   ["cqrs"]]))}
    if draw(st.booleans()):  # words a user may write: markup, TeX, quotes, other scripts, control characters
        text = st.one_of(st.text(max_size=20), st.sampled_from(["[/bold]", "[red]x[/]", "$\\frac{1}$", "50% off {x}",
                                                                 "Zürich ✓", "\x1b[2J", "a\nb"]))
        data["name"], data["description"] = draw(text), draw(text)
    if draw(st.booleans()):
        data["record"] = draw(st.sampled_from(["full", "summary"]))
    if draw(st.booleans()):
        data["record_sample"] = draw(st.integers(1, 200))
    if draw(st.booleans()):
        data["bin"] = length / draw(st.sampled_from([5, 40, 500]))
    keys = draw(st.one_of(st.none(), st.integers(1, 40)))
    clients = draw(st.one_of(st.none(), st.integers(1, 20)))
    writes_new = False
    workload: dict[str, Any] = {}
    if keys is not None:
        popularity = draw(st.one_of(st.just("uniform"), st.builds(lambda s: {"zipf": s}, st.floats(0.01, 10.0))))
        workload["keys"] = {"count": keys, "popularity": popularity}
    writes = _writes(draw, drawn, length, keys)
    if writes is not None:
        workload["writes"] = writes
        writes_new = writes.get("keys", {}).get("choose") == "new"
    workload["reads"] = _reads(draw, drawn, length, warmup, keys, clients, writes_new)
    data["workload"] = workload
    sticky_ok = clients is not None
    policies = POLICIES if sticky_ok else POLICIES[:-1]
    replica_policies = REPLICA_POLICIES if sticky_ok else REPLICA_POLICIES[:-1]
    if draw(st.booleans()):
        data["handlers"] = {"count": draw(st.integers(1, 4)), "concurrency": draw(st.integers(1, 8))}
    data["load_balancer"] = draw(st.sampled_from(policies))
    data["crud"] = _crud(draw, drawn, writes is not None, policies)
    data["cqrs"] = _cqrs(draw, drawn, writes is not None, replica_policies)
    if draw(st.integers(0, 5)) == 0:  # now and then a runaway guard that binds: the run stops, marked incomplete
        data["limits"] = {"max_in_system": draw(st.integers(1, 30))}
    if draw(st.booleans()):
        cost: dict[str, Any] = {"instance_hour": draw(reals(0.0, 10.0))}
        if draw(st.booleans()):
            cost["write_instance_hour"] = draw(reals(0.0, 10.0))
        if draw(st.booleans()):
            cost.update(snapshot_gb=draw(reals(0.0, 100.0)), snapshot_gb_hour=draw(reals(0.0, 1.0)))
        data["cost"] = cost
    if draw(st.integers(0, 4)) == 0:
        data["sweep"] = {"cqrs.replicas.count": [1, 2]}
    return data, drawn.files


def _reads(draw, drawn: Drawn, length: float, warmup: float, keys, clients, writes_new: bool) -> dict:
    reads: dict[str, Any] = {}
    kind = draw(st.sampled_from(["rate", "steps", "diurnal", "trace"]))
    if kind == "rate":
        rate = draw(st.floats(1.0, 40.0))
        reads["rate"] = draw(st.sampled_from([rate, f"{rate:.4g}/s", f"{rate * 60:.4g}/m"]))
    elif kind == "steps":
        starts = sorted(set(draw(st.lists(st.floats(0.01, length * 0.5), max_size=3))))
        last = draw(st.one_of(st.floats(1.0, 40.0), st.just(0.0)))  # now and then no read at all: a write-only study
        rates = [draw(reals(0.0, 40.0)) for _ in starts] + [last]
        reads["rate"] = [[0, rates[0] if starts else rates[-1]]] + [[s, r] for s, r in zip(starts, rates[1:])]
    elif kind == "diurnal":
        shape: dict[str, Any] = {"mean": f"{draw(st.floats(1.0, 40.0)):.4g}/s", "amplitude": draw(st.floats(0.0, 1.0)),
                                 "period": duration(draw, 0.5, 20.0)}
        which = draw(st.sampled_from(["phase", "peak", None]))
        if which is not None:
            shape[which] = draw(reals(-20.0, 20.0))
        reads["rate"] = {"diurnal": shape}
    if kind != "diurnal" and draw(st.booleans()):
        reads["process"] = draw(st.sampled_from(["poisson", "uniform"]))
    mean_query = draw(st.sampled_from([0.001, 0.005, 0.02]))
    if kind == "trace":
        count = draw(st.integers(1, 60))
        columns: dict[str, list] = {}
        trace: dict[str, Any] = {}
        if draw(st.booleans()):
            columns["q"] = [draw(reals(mean_query * 0.1, mean_query * 3)) for _ in range(count)]
            trace["query_time"] = "q"
        if keys is not None and draw(st.booleans()):
            top = keys * 2 if writes_new else keys
            columns["k"] = [draw(st.integers(0, top - 1)) for _ in range(count)]
            trace["key"] = "k"
        if clients is not None and draw(st.booleans()):
            columns["c"] = [draw(st.integers(0, clients - 1)) for _ in range(count)]
            trace["client"] = "c"
        trace["file"] = drawn.file(_times_csv(draw, length * 1.1, count, (warmup, length), columns))
        reads["trace"] = trace
        if "query_time" not in trace:
            reads["query_time"] = distribution(draw, drawn, mean_query)
    else:
        reads["query_time"] = distribution(draw, drawn, mean_query)
    if draw(st.booleans()):
        reads["handler_time"] = distribution(draw, drawn, 0.001, positive=False)
    if draw(st.booleans()):
        reads["timeout"] = duration(draw, 0.002, 0.2)
        if draw(st.booleans()):
            reads["retries"] = draw(st.integers(0, 3))
            reads["retry_backoff"] = duration(draw, 0.0, 0.05)
    if clients is not None:
        reads["clients"] = clients
    return reads


def _writes(draw, drawn: Drawn, length: float, keys) -> dict | None:
    kind = draw(st.sampled_from([None, "interval", "rate", "at", "trace"]))
    if kind is None:
        return None
    writes: dict[str, Any] = {"apply_time": distribution(draw, drawn, draw(st.sampled_from([0.005, 0.05, 0.3])),
                                                         positive=False)}
    if kind == "interval":
        writes["interval"] = distribution(draw, drawn, draw(st.floats(0.2, 2.0)))
    elif kind == "rate":
        writes["rate"] = f"{draw(st.floats(0.3, 5.0)):.4g}/s"
    elif kind == "at":
        at = draw(st.lists(reals(0.0, length * 1.2), max_size=6))
        writes["at"] = at + at[:draw(st.integers(0, 2))]  # in any order, some at the same instant
    else:
        count = draw(st.integers(1, 10))
        writes["trace"] = {"file": drawn.file(_times_csv(draw, length * 1.1, count, (0.0, length), {}))}
    if draw(st.booleans()):
        writes["read_back"] = {"probability": draw(st.floats(0.0, 1.0)), "after": duration(draw, 0.0, 1.0)}
    if keys is not None and draw(st.booleans()):
        choose = draw(st.sampled_from(["popularity", "uniform", "new"]))
        writes["keys"] = {"count": draw(st.integers(1, keys if choose != "new" else 4)), "choose": choose}
    return writes


def _failures(draw, drawn: Drawn) -> dict:
    return {"mtbf": distribution(draw, drawn, draw(st.floats(0.3, 3.0))),
            "mttr": distribution(draw, drawn, draw(st.floats(0.01, 0.5)), positive=False)}


def _autoscale(draw, drawn: Drawn, start: int) -> dict:
    auto: dict[str, Any] = {"min": draw(st.integers(1, start)), "max": draw(st.integers(start, start + 3)),
                            "interval": duration(draw, 0.1, 1.0)}
    if draw(st.booleans()):
        auto.update(target_utilization=draw(st.floats(0.05, 1.0)), tolerance=draw(st.floats(0.0, 0.9)),
                    scale_out_cooldown=duration(draw, 0.0, 1.0), scale_in_cooldown=duration(draw, 0.0, 1.0))
    if draw(st.booleans()):
        auto["provision_time"] = distribution(draw, drawn, draw(st.floats(0.05, 0.5)), positive=False)
    return auto


def _crud(draw, drawn: Drawn, writes: bool, policies) -> dict:
    crud: dict[str, Any] = {"connections": draw(st.integers(1, 8)), "locking": draw(st.sampled_from(["exclusive", "mvcc"]))}
    if draw(st.booleans()):
        crud["query_time"] = distribution(draw, drawn, 0.005)
    if writes and draw(st.booleans()):
        crud["apply_time"] = distribution(draw, drawn, 0.02, positive=False)
    replicas = draw(st.integers(0, 3))
    crud["replicas"] = replicas
    if draw(st.booleans()):
        crud["failures"] = _failures(draw, drawn)
    if replicas:
        crud.update(replica_connections=draw(st.integers(1, 4)), replica_routing=draw(st.sampled_from(policies)),
                    replication_lag=distribution(draw, drawn, draw(st.floats(0.01, 1.0)), positive=False))
        if draw(st.booleans()):
            crud["replication_stalls"] = {"every": distribution(draw, drawn, draw(st.floats(0.2, 2.0))),
                                          "duration": distribution(draw, drawn, 0.2, positive=False)}
        if draw(st.booleans()):
            crud["max_lag"] = duration(draw, 0.01, 1.0)
        if draw(st.booleans()):
            crud["replica_autoscale"] = _autoscale(draw, drawn, replicas)
    return crud


def _cqrs(draw, drawn: Drawn, writes: bool, policies) -> dict:
    count = draw(st.integers(1, 4))
    strategy = draw(st.sampled_from(STRATEGIES))
    replicas: dict[str, Any] = {"count": count, "connections": draw(st.integers(1, 4)),
                                "routing": draw(st.sampled_from(policies))}
    if draw(st.booleans()):
        replicas["query_time"] = distribution(draw, drawn, 0.003)
    if draw(st.booleans()):
        replicas["cold_factor"] = draw(st.floats(1.0, 5.0))
        replicas["warm_up_time"] = duration(draw, 0.01 if replicas["cold_factor"] > 1 else 0.0, 1.0)
    if draw(st.booleans()):
        replicas["failures"] = _failures(draw, drawn)
    if draw(st.booleans()):
        replicas["max_lag"] = duration(draw, 0.01, 2.0)
    sync: dict[str, Any] = {"strategy": strategy,
                            "replace_time": distribution(draw, drawn, draw(st.floats(0.02, 0.5)), positive=False),
                            "drain": draw(st.booleans()), "trigger_delay": duration(draw, 0.0, 0.3)}
    if strategy == "projection":
        sync["projection_time"] = distribution(draw, drawn, draw(st.sampled_from([0.001, 0.02, 0.2])), positive=False)
    else:
        sync.update(batch_size=draw(st.integers(1, count)), max_surge=draw(st.integers(0, 2)),
                    build_parallelism=draw(st.integers(1, 3)),
                    on_write_during_rollout=draw(st.sampled_from(["queue", "restart"])))
    cqrs: dict[str, Any] = {"write_servers": draw(st.integers(1, 3)), "replicas": replicas, "sync": sync}
    if writes and draw(st.booleans()):
        cqrs["apply_time"] = distribution(draw, drawn, 0.01, positive=False)
    if draw(st.booleans()):
        cqrs["write_server_failures"] = _failures(draw, drawn)
    if strategy != "projection" and draw(st.booleans()):
        cqrs["autoscale"] = _autoscale(draw, drawn, count)
    return cqrs
