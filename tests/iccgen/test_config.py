import os
import subprocess
import sys

import pytest

from iccgen.config import JobConfig, config_keys, diff_fields, load_config
from iccgen.errors import ConfigError


def write(tmp_path, text):
    path = tmp_path / "job.toml"
    path.write_text(text)
    return path


def test_toml_and_flags_merge(tmp_path):
    path = write(tmp_path, 'n = 10\nseed = 3\n[solid]\ndifficulty = 2\n')
    job = load_config(path, n=7, out=str(tmp_path / "o"))
    assert (job.n, job.seed, job.solid.difficulty) == (7, 3, 2)
    assert job.out == str(tmp_path / "o")


@pytest.mark.parametrize(
    "text, needle",
    [
        ("bogus = 1\n", "unknown key 'bogus'"),
        ("[solid]\nmixx = {}\n", "unknown key 'solid.mixx'"),
        ("n = -1\n", "'n'"),
        ("n = 'many'\n", "'n'"),
        ("pipelines = ['solid', 'nope']\n", "'pipelines.1'"),
        ("[solid]\nmix = {cube_nett = 1}\n", "unknown families ['cube_nett']"),
        ("[dedup]\nthreshold = 99\n", "'dedup.threshold'"),
        ("n = \n", "not valid TOML"),
    ],
)
def test_bad_config_names_the_field(tmp_path, text, needle):
    with pytest.raises(ConfigError) as e:
        load_config(write(tmp_path, text))
    assert needle in str(e.value)
    assert "\n" not in str(e.value)


def test_missing_file():
    with pytest.raises(ConfigError, match="no such config file"):
        load_config("/nonexistent/job.toml")


def test_flag_errors_say_flags():
    with pytest.raises(ConfigError, match="^flags: bad value for 'n'"):
        load_config(n=-1)


def test_fingerprint_ignores_placement_but_not_output():
    a = JobConfig(out="x", workers=2)
    b = JobConfig(out="y", workers=8, address="ray://h:1", model={"base_url": "http://other"})
    assert a.fingerprint() == b.fingerprint()
    c = JobConfig(n=201)
    assert a.fingerprint() != c.fingerprint()
    assert diff_fields(a.output_fields(), c.output_fields()) == ["n"]


def test_api_key_never_in_output_fields():
    job = JobConfig(model={"api_key_env": "MY_SECRET_VAR"})
    assert "MY_SECRET_VAR" not in str(job.output_fields())


def test_model_single_url_and_per_pipeline_n():
    job = JobConfig(model={"base_url": "http://a/v1"}, diversity={"n": 5})
    assert job.model.base_urls == ["http://a/v1"]
    assert job.n_for("diversity") == 5 and job.n_for("solid") == 200


def test_help_lists_every_key_a_job_file_may_hold():
    keys = config_keys()
    assert keys[0].startswith("out, pipelines, n, seed")
    assert "[targets] refine_captions code_targets prompt_version" in keys
    assert any(k.startswith("[diversity]") and " from " in k for k in keys)  # the alias, as written
    help_text = subprocess.run([sys.executable, "-m", "iccgen.cli", "run", "--help"],
                               capture_output=True, text=True, check=True).stdout
    assert "[qc] min_grounding min_claims judges" in help_text


def test_judges_without_an_endpoint_fail_at_load_not_in_a_worker(tmp_path):
    path = write(tmp_path, '[qc]\njudges = ["image"]\n')
    with pytest.raises(ConfigError) as e:
        load_config(path)
    assert str(e.value).startswith(f"{path}: qc.judges asks a model about every candidate")
    assert "--endpoint URL" in str(e.value)
    assert load_config(path, model={"base_urls": ["http://127.0.0.1:8000/v1"]}).qc.judges == ["image"]


def test_home_in_input_paths_is_the_home_folder_but_not_in_a_uri():
    job = load_config(pipelines=["reproduce", "diversity"], reproduce={"seeds": "~/seeds"},
                      diversity={"from": "~/runs/a"})
    home = os.path.expanduser("~")
    assert job.reproduce.seeds == f"{home}/seeds" and job.diversity.source == f"{home}/runs/a"
    assert load_config(reproduce={"seeds": "s3://b/~x"}).reproduce.seeds == "s3://b/~x"
