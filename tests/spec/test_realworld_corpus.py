"""Every real-world Polyaxon file in ``../shared/realworld-specs`` loads or is rejected clearly.

Loaded files list ``(algorithm, concurrency, space size)``; rejected ones list the path the
error must name and a piece of its message. Fragments are parsed with their leading ``...``
line (YAML's document-end marker, the docs' "rest omitted") removed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hpo.errors import SpecError
from hpo.spec import GroupSpec, describe, parse_spec

CORPUS = Path(__file__).parents[2].parent / "shared" / "realworld-specs"

LOADS = {
    "Oodapow__polyaxon_example__polyaxon__hptune_bo.yml": ("bo", 2, None),
    "Oodapow__polyaxon_example__polyaxon__hptune_hb.yml": ("hyperband", 2, 12),
    "Oodapow__polyaxon_example__polyaxon__hptune_hb_resume.yml": ("hyperband", 2, 12),
    "Oodapow__polyaxon_example__polyaxon__hptune_hb_uniform.yml": ("hyperband", 2, None),
    "OrangeFreitag__CreateDoc2Vec__polyaxonfile_group.yml": ("random", 10, 324),  # {{ 128 }}
    "OrangeFreitag__MeaningClassifier__polyaxonfile_group.yml": ("random", 10, 4800),
    "QipengZhou__polyaxon-argo-seldon-example__pytorch-mnist__polyaxonfile_hyperparams@3aa6334.yml": (
        "random",
        5,
        None,
    ),
    "SpoC-DHKA__LudwigTest__polyaxonfile_group.yml": ("random", 30, 40500),
    "ZhuFengdaaa__MG-AuxRN__polyaxonfile_group.yml": ("grid", 6, 6),
    "andreas-gompos__bbc-topic-classification__polyaxonfile.yml": ("random", 20, 672),
    "clark-wu__polyaxon-examples__in_cluster__sklearn__data_customization__polyaxonfile_hyperparams.yml": (
        "grid",
        3,
        9,
    ),
    "dashtagger__sentiment_analysis_covid__polyaxon__group.yml": ("random", 3, 6),
    "desireechen__dvc-polyaxon__polyaxon__group.yml": ("random", 2, 24),
    "duanyutong__polyaxon-quick-start__polyaxonfile_group.yml": ("grid", 4, 4),
    "duanyutong__polyaxon-quick-start__polyaxonfile_hyperparams.yml": ("grid", 4, 4),
    "gmrukwa__polyaxon-python-template__polyaxon__grid_search@6198e38.yml": ("grid", 3, 9),
    "gmrukwa__polyaxon-python-template__polyaxon__iris_r_grid_search.yml": ("grid", 3, 9),
    "honnibal__spacy-pretrain-polyaxon__experiment__polyaxonfile.yml": ("random", 200, 8640),
    "honnibal__spacy-pretrain-polyaxon__lmao-conll18__polyaxonfile.yml": ("random", 100, 40500),
    "honnibal__spacy-pretrain-polyaxon__lmao-imdb-1k__polyaxonfile@62c889e.yml": (
        "random",
        50,
        17280,
    ),
    "hhase__rl_us_navigation__polyaxonfile_group.yml": ("grid", 1, 3),  # {{ reward + 0.01 }}
    "hypnosapos__cartpole-rl-remote__polyaxon__polyaxon.yml": ("random", 2, 15),
    "hypnosapos__cartpole-rl-remote__polyaxon__polyaxonfile@0171e30.yml": ("grid", 2, 6),
    "hypnosapos__cartpole-rl-remote__polyaxon__polyaxonfile_group.yml": ("grid", 2, 6),
    "johnpeterflynn__nerve-segmentation-classification__polyaxonfile_group.yml": ("grid", 1, 9),
    "mojob__polyaxon-experiments__polyaxon_hyperparams@08980b7.yml": ("grid", 3, 4374),
    "polyaxon__polyaxon__docs__templates__experimentation__experiment_groups.md__block2@1720e92.yml": (
        "grid",
        1,
        5,
    ),
    "polyaxon__polyaxon__docs__templates__experimentation__hyperparameters_search.md__block1@275d0f1.yml": (
        "grid",
        1,
        10,
    ),
    "polyaxon__polyaxon__docs__templates__experimentation__hyperparameters_search.md__block2@275d0f1.yml": (
        "grid",
        1,
        10,
    ),
    "polyaxon__polyaxon__docs__templates__experimentation__hyperparameters_search.md__block3@275d0f1.yml": (
        "random",
        2,
        None,
    ),
    "polyaxon__polyaxon__polyaxonfile_hyperparams@00bbc23.yml": ("random", 5, 20),
    "polyaxon__polyaxon__templates__experimentation__experiment_groups.md__block2@1b9c92e.yml": (
        "grid",
        1,
        5,
    ),
    "polyaxon__polyaxon__tests__fixtures__matrix_file@08e2f18.yml": ("grid", 2, 10),
    "polyaxon__polyaxon__tests__fixtures__matrix_file_early_stopping@08e2f18.yml": (
        "random",
        2,
        10,
    ),
    "polyaxon__polyaxon__tests__fixtures__matrix_file_ignored_n_experiments@08e2f18.yml": (
        "random",
        2,
        10,
    ),
    "polyaxon__polyaxon__tests__fixtures__matrix_file_with_int_float_types@08e2f18.yml": (
        "grid",
        2,
        4,
    ),
    "polyaxon__polyaxon__tests__fixtures__one_matrix_file@08e2f18.yml": ("grid", 1, 2),
    "polyaxon__polyaxon__tests__fixtures__plain__matrix_file@bc37228.yml": ("grid", 2, 10),
    "polyaxon__polyaxon__tests__fixtures__plain__matrix_file_early_stopping@bc37228.yml": (
        "random",
        2,
        10,
    ),
    "polyaxon__polyaxon__tests__fixtures__plain__one_matrix_file@6a9d87c.yml": ("grid", 1, 2),
    "polyaxon__polyaxon__tests__fixtures__run_exec_matrix_file@08e2f18.yml": ("grid", 1, 3),
    "yestinl__AuxRN_PAMI__polyaxonfile_group.yml": ("grid", 12, 12),
    "yestinl__R2R-Aux-Obj__polyaxonfile_group@f94a0cb.yml": ("grid", 8, 8),
}

SUM_09 = "probabilities sum to 0.9, expected 1"
REJECTS = {
    "polyaxon__polyaxon__tests__fixtures__exec_matrix_file@46acd25.yml": (
        "exec.cmd",
        "conditional commands (if/cond/do/else_do) are not supported",
    ),
    "polyaxon__polyaxon__tests__fixtures__matrix_file_percent_experiments@5925ab2.yml": (
        "run.cmd",
        "missing run command",
    ),
    "polyaxon__polyaxon__tests__fixtures__plain__run_cmd_matrix_sampling_file@bc37228.yml": (
        "hptuning.matrix.activation.pvalues",
        SUM_09,
    ),
    "polyaxon__polyaxon__tests__fixtures__run_exec_matrix_sampling_file@5e1605d.yml": (
        "settings.matrix.activation.pvalues",
        SUM_09,
    ),
    "fragments/polyaxon__polyaxon__docs__templates__experimentation__experiment_groups.md__block7@1720e92.yml": (
        "settings.matrix.activation.pvalues",
        SUM_09,
    ),
    "fragments/polyaxon__polyaxon__docs__templates__experimentation__experiment_groups.md__block8@1720e92.yml": (
        "settings.matrix.activation.pvalues",
        SUM_09,
    ),
    "fragments/polyaxon__polyaxon__docs__templates__experimentation__hyperparameters_search.md__block8@275d0f1.yml": (
        "hptuning.matrix.activation.pvalues",
        SUM_09,
    ),
    "fragments/polyaxon__polyaxon__docs__templates__experimentation__hyperparameters_search.md__block9@275d0f1.yml": (
        "hptuning.matrix.activation.pvalues",
        SUM_09,
    ),
    "fragments/polyaxon__polyaxon__docs__templates__experimentation__hyperparameters_search.md__block10@275d0f1.yml": (
        "run.cmd",
        "missing run command",
    ),
    "fragments/polyaxon__polyaxon__docs__templates__polyaxonfile_specification__sections.md__matrix_pvalues_tuples@0c4cc30.yml": (
        "matrix.loss.pvalues",
        "(MeanSquaredError, 0, 2) has 3 parts; expected (value, prob) (a decimal comma?",
    ),
    "invalid/OrangeFreitag__BerklingscherVektor__polyaxonfile_group@0dac60a.yml": (
        "",
        "not valid YAML at line 26, column 1",
    ),
    "invalid/ad-freiburg__aqqu__polyaxonfile.yml": ("", "not valid YAML at line 35"),
    "invalid/polyaxon__polyaxon__tests__fixtures__missing_kind@c2109a5.yml": (
        "matrix",
        "no matrix",
    ),
    "invalid/polyaxon__polyaxon__tests__fixtures__missing_version@2e26a52.yml": (
        "matrix",
        "no matrix",
    ),
    "invalid/polyaxon__polyaxon__tests__fixtures__non_supported_file@c2da3a9.yml": (
        "version",
        "unsupported version 0.6",
    ),
    # Grid + a distribution is the grid plugin's error; the spec stops earlier: no run section.
    "invalid/polyaxon__polyaxon__tests__fixtures__plain__wrong_grid_matrix_file@bc37228.yml": (
        "run.cmd",
        "missing run command",
    ),
}

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"{CORPUS} is not checked out")


def read(rel: str) -> str:
    text = (CORPUS / rel).read_text(encoding="utf-8")
    if rel.startswith("fragments/"):
        lines = text.splitlines(keepends=True)
        if len(lines) > 1 and lines[1].strip() == "...":
            del lines[1]
        text = "".join(lines)
    return text


def test_every_corpus_file_has_an_expected_outcome():
    files = {str(p.relative_to(CORPUS)) for p in CORPUS.rglob("*.yml")}
    assert files == set(LOADS) | set(REJECTS)
    assert len(files) == 59


@pytest.mark.parametrize("rel", sorted(LOADS))
def test_loads(rel):
    spec = parse_spec(read(rel), source=rel)
    assert (spec.search.algorithm, spec.concurrency, spec.space_size()) == LOADS[rel]
    assert GroupSpec.from_json(spec.to_json()) == spec
    assert describe(spec)


@pytest.mark.parametrize("rel", sorted(REJECTS))
def test_rejected_clearly(rel):
    path, fragment = REJECTS[rel]
    with pytest.raises(SpecError) as info:
        parse_spec(read(rel), source=rel)
    assert info.value.file == rel
    assert info.value.path == path
    assert fragment in info.value.message


def test_polyaxon_logspace_doc_values():
    spec = parse_spec(
        read(
            "polyaxon__polyaxon__templates__experimentation__experiment_groups.md__block2@1b9c92e.yml"
        )
    )
    values = spec.matrix["lr"].values()
    assert round(values[0], 3) == 1.023 and round(values[-1], 3) == 1.259


def test_exponent_floats_from_honnibal():
    spec = parse_spec(read("honnibal__spacy-pretrain-polyaxon__experiment__polyaxonfile.yml"))
    assert spec.matrix["adam_eps"].values() == [1e-4, 1e-8, 1e-12]


def test_hyperband_resource_is_a_template_name():
    spec = parse_spec(read("Oodapow__polyaxon_example__polyaxon__hptune_hb.yml"))
    assert spec.search.options["resource"] == {"name": "epochs", "type": "int"}
    assert spec.metric.name == "test_acc" and "{{ epochs }}" in spec.run.cmd


def test_declaration_shadowed_by_matrix():
    spec = parse_spec(
        read(
            "clark-wu__polyaxon-examples__in_cluster__sklearn__data_customization__polyaxonfile_hyperparams.yml"
        )
    )
    assert spec.declarations == {"max_features": 3}
    assert any("min_samples_leaf" in w for w in spec.warnings)


def test_settings_and_hptuning_generations_agree():
    old = parse_spec(read("hypnosapos__cartpole-rl-remote__polyaxon__polyaxonfile_group.yml"))
    new = parse_spec(read("hypnosapos__cartpole-rl-remote__polyaxon__polyaxonfile@0171e30.yml"))
    assert [p.values() for p in old.matrix.values()] == [p.values() for p in new.matrix.values()]
    assert old.declarations == new.declarations and old.run.cmd == new.run.cmd
    assert any(w.startswith("run.image") for w in old.warnings)


def test_folded_continuations_become_plain_spaces():
    spec = parse_spec(read("gmrukwa__polyaxon-python-template__polyaxon__grid_search@6198e38.yml"))
    assert "\\" not in spec.run.cmd
    assert spec.run.cmd.split() == [
        "python", "-u", "-m", "bin.random_forest", "--n_estimators={{", "n_estimators", "}}",
        "--max_features={{", "max_features", "}}", "--min_samples_leaf={{", "min_samples_leaf", "}}",
    ]  # fmt: skip


def test_seed_and_concurrency_inside_hptuning():
    spec = parse_spec(read("dashtagger__sentiment_analysis_covid__polyaxon__group.yml"))
    assert spec.seed == 42 and spec.concurrency == 3


def test_jinja_expressions_render_as_polyaxon_rendered_them():
    from hpo.spec.template import render

    spec = parse_spec(read("hhase__rl_us_navigation__polyaxonfile_group.yml"))
    values = {**spec.declarations, **{n: p.values()[0] for n, p in spec.matrix.items()}}
    cmd = render(spec.run.cmd, {**values, "trial_id": 1, "group_id": "g", "trial_dir": "/t",
                                "checkpoint_dir": "/c"})
    assert f"--reward_move_closer={values['reward'] + 0.01!r}" in cmd
    doc2vec = parse_spec(read("OrangeFreitag__CreateDoc2Vec__polyaxonfile_group.yml"))
    values = {n: p.values()[0] for n, p in doc2vec.matrix.items()}
    assert "128" in render(doc2vec.run.cmd, {**doc2vec.declarations, **values})
