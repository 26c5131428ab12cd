"""Spec validation, grid expansion and up-front errors."""

import pytest
from sweep_fixtures import tiny_spec, write_tiny

from spikewire.experiments import SpecError, expand, list_studies, load_spec, parse_spec, plan
from spikewire.experiments.spec import locate


def test_grid_is_the_product_of_entries_and_ids_are_stable():
    spec = parse_spec(tiny_spec(seeds=(0, 1, 2)))
    jobs = expand(spec, allow_code=True)
    # networks: toy + real[J=0.5] + real[J=1.0] = 3; methods: 2 bin widths; seeds: 3
    assert len(jobs) == 3 * 2 * 3
    assert len({j.job_id for j in jobs}) == len(jobs)
    # 3 networks x 3 seeds distinct simulations, shared by the two methods
    assert len({j.sim_key for j in jobs}) == 9
    again = expand(parse_spec(tiny_spec(seeds=(0, 1, 2))), allow_code=True)
    assert [j.job_id for j in again] == [j.job_id for j in jobs]
    assert {j.factors.get("net.J") for j in jobs} == {None, 0.5, 1.0}


def test_changing_only_methods_keeps_the_simulation_keys():
    a = expand(parse_spec(tiny_spec(bin_widths=(1e-3,))), allow_code=True)
    b = expand(parse_spec(tiny_spec(bin_widths=(5e-3,))), allow_code=True)
    assert {j.sim_key for j in a} == {j.sim_key for j in b}
    assert not {j.job_id for j in a} & {j.job_id for j in b}


def test_unknown_key_names_key_and_line():
    text = tiny_spec().replace('name = "toy"', 'name = "toy"\nparms = { J = 1.0 }')
    with pytest.raises(SpecError) as err:
        parse_spec(text, source="bad.toml")
    msg = str(err.value)
    assert "networks[0].parms" in msg and "unknown key" in msg
    line = next(k for k, ln in enumerate(text.splitlines(), 1) if ln.startswith("parms"))
    assert f"bad.toml:{line}:" in msg


def test_locate_finds_nth_array_table():
    text = "[experiment]\nname='x'\n[[methods]]\nname='a'\n[[methods]]\nname='b'\nfoo=1\n"
    assert locate(text, ("methods", 1, "foo")) == 7
    assert locate(text, ("experiment", "name")) == 2


def test_bad_values_are_reported():
    with pytest.raises(SpecError, match="seeds"):
        parse_spec(tiny_spec(seeds=(1, 1)))
    with pytest.raises(SpecError, match="duration"):
        parse_spec(tiny_spec().replace("duration = 2.0", "duration = -1.0"))
    with pytest.raises(SpecError, match="runner"):
        parse_spec(tiny_spec(runner="threads"))


def test_unknown_method_and_setting_fail_before_running():
    with pytest.raises(SpecError, match="unknown inference method 'nope'"):
        expand(parse_spec(tiny_spec().replace('name = "lagcorr_test"', 'name = "nope"')),
               allow_code=True)
    with pytest.raises(SpecError, match="no setting"):
        expand(parse_spec(tiny_spec().replace("sleep =", "slep =")), allow_code=True)


def test_unknown_builder_and_parameter():
    with pytest.raises(SpecError, match="has no parameter"):
        expand(parse_spec(tiny_spec().replace("eta = 1.2", "etta = 1.2")), allow_code=True)
    with pytest.raises(SpecError, match="unknown network builder"):
        expand(parse_spec(tiny_spec().replace('builder = "brunel"', 'builder = "bruenl"')),
               allow_code=True)


def test_network_too_large_for_memory():
    text = tiny_spec().replace("n_neurons = 60", "n_neurons = 10_000_000")
    with pytest.raises(SpecError, match="GiB"):
        expand(parse_spec(text), allow_code=True)


def test_empty_grid():
    text = tiny_spec().replace('name = "toy"', 'name = "toy"\nmethods = []')
    text = text.replace('vary = { J = [0.5, 1.0] }', 'methods = []')
    with pytest.raises(SpecError, match="no cells"):
        expand(parse_spec(text), allow_code=True)


def test_unknown_observation_reference():
    text = tiny_spec().replace('name = "toy"', 'name = "toy"\nobservations = ["nope"]')
    with pytest.raises(SpecError, match="unknown observation 'nope'"):
        parse_spec(text)


def test_bad_observation_step_fails_before_running():
    text = tiny_spec().replace("steps = []", 'steps = [{ step = "subsample", fraction = 2.0 }]')
    with pytest.raises(SpecError, match="fraction"):
        expand(parse_spec(text), allow_code=True)


def test_unwritable_result_folder(tmp_path):
    from spikewire.experiments import run_experiment

    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(PermissionError, match="not writable"):
        run_experiment(write_tiny(tmp_path), out=blocker / "sub", progress=False, allow_code=True)


def test_missing_spec_file_and_unknown_study(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_spec(tmp_path / "nope.toml")
    with pytest.raises(ValueError, match="built-in studies"):
        load_spec("no_such_study")


@pytest.mark.parametrize("name", ["demo", "realism", "resolution", "hidden", "recurrence",
                                  "motifs", "states", "stimulation"])
def test_builtin_studies_expand(name):
    assert name in list_studies()
    spec, jobs, out = plan(name)
    assert jobs and out.name == spec.experiment.name


def test_realism_has_the_five_variants():
    spec, jobs, _ = plan("realism")
    nets = {j.network["name"]: j.network["params"] for j in jobs}
    assert nets["a_toy"]["tau_ref"] == 0.0 and nets["a_toy"]["delay"] is None
    assert nets["b_refractory"]["tau_ref"] == 2e-3 and nets["b_refractory"]["delay"] is None
    assert nets["c_delay"]["tau_ref"] == 0.0 and nets["c_delay"]["delay"] == 2e-3
    assert nets["d_realistic"]["tau_ref"] == 2e-3 and nets["d_realistic"]["delay"] == 2e-3
    e = [j for j in jobs if j.network["name"] == "e_rates"]
    d = [j for j in jobs if j.network["name"] == "d_realistic"]
    # (e) observes the very simulation of (d) through smoothing
    assert {j.sim_key for j in e} == {j.sim_key for j in d}
    # of the same recorded subset
    assert all([s["step"] for s in j.observation["steps"]] == ["subsample", "smooth"]
               for j in e)
