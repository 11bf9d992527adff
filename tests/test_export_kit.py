"""The deployment kit in export/: its TF Serving files parse as TensorFlow Serving's messages
and agree with the export and the README's container command."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from google.protobuf import text_format

KIT = Path(__file__).resolve().parents[1] / "export"


def _batching_parameters_class():
    """``tensorflow.serving.BatchingParameters``. The pip package tensorflow-serving-api does
    not ship ``tensorflow_serving/servables/tensorflow/session_bundle_config.proto``, so where
    it is missing the message is declared here with the fields, numbers and types of that
    file (tensorflow/serving), in a pool of its own."""
    try:
        from tensorflow_serving.servables.tensorflow import session_bundle_config_pb2
    except ImportError:
        pass
    else:
        return session_bundle_config_pb2.BatchingParameters
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, wrappers_pb2

    field = descriptor_pb2.FieldDescriptorProto
    proto = descriptor_pb2.FileDescriptorProto(
        name="tensorflow_serving/servables/tensorflow/session_bundle_config.proto",
        package="tensorflow.serving", syntax="proto3",
        dependency=["google/protobuf/wrappers.proto"])
    message = proto.message_type.add(name="BatchingParameters")
    for number, name, wrapper in ((1, "max_batch_size", "Int64Value"),
                                  (2, "batch_timeout_micros", "Int64Value"),
                                  (3, "max_enqueued_batches", "Int64Value"),
                                  (4, "num_batch_threads", "Int64Value"),
                                  (5, "thread_pool_name", "StringValue")):
        message.field.add(name=name, number=number, label=field.LABEL_OPTIONAL,
                          type=field.TYPE_MESSAGE, type_name=f".google.protobuf.{wrapper}")
    message.field.add(name="allowed_batch_sizes", number=6, label=field.LABEL_REPEATED,
                      type=field.TYPE_INT64)
    message.field.add(name="pad_variable_length_inputs", number=7, label=field.LABEL_OPTIONAL,
                      type=field.TYPE_BOOL)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(descriptor_pb2.FileDescriptorProto.FromString(wrappers_pb2.DESCRIPTOR.serialized_pb))
    pool.Add(proto)
    return message_factory.GetMessageClass(
        pool.FindMessageTypeByName("tensorflow.serving.BatchingParameters"))


def _model_server_config():
    from tensorflow_serving.config import model_server_config_pb2

    return text_format.Parse((KIT / "tf_serving" / "models.config").read_text(),
                             model_server_config_pb2.ModelServerConfig())


def test_models_config_serves_the_exported_model_with_a_version_policy():
    from lipmotion_tf.cli.main import build_parser

    config = _model_server_config()
    (model,) = config.model_config_list.config
    export = build_parser().parse_args(["export", "saved-model", "-o", "models/lipmotion"])
    assert model.name == export.model_name  # the name the export and the clients use
    assert model.model_platform == "tensorflow"
    assert model.base_path.startswith("/")  # TF Serving needs an absolute path
    assert model.model_version_policy.WhichOneof("policy_choice") == "latest"
    assert model.model_version_policy.latest.num_versions == 1


def test_batching_config_fits_the_generate_window_signature():
    from lipmotion_tf.cli.main import build_parser

    parameters = text_format.Parse((KIT / "tf_serving" / "batching.config").read_text(),
                                   _batching_parameters_class()())
    export = build_parser().parse_args(["export", "saved-model", "-o", "models/lipmotion"])
    assert parameters.max_batch_size.value == export.batch_size
    sizes = list(parameters.allowed_batch_sizes)
    # TF Serving's rules: increasing, the last one equal to max_batch_size.
    assert sizes == sorted(set(sizes)) and sizes[-1] == parameters.max_batch_size.value
    assert parameters.num_batch_threads.value >= 1
    assert 0 < parameters.batch_timeout_micros.value <= 100_000
    assert parameters.max_enqueued_batches.value >= 1


def test_readme_container_command_mounts_what_the_configs_name():
    readme = (KIT / "README.md").read_text()
    (model,) = _model_server_config().model_config_list.config
    mounts = dict(re.findall(r'-v "\$PWD/([^:"]+):([^:"]+)(?::ro)?"', readme))
    assert mounts["models/lipmotion"] == model.base_path
    config_dir = mounts["export/tf_serving"]
    for flag, name in (("--model_config_file", "models.config"),
                       ("--batching_parameters_file", "batching.config")):
        assert f"{flag}={config_dir}/{name}" in readme
        assert (KIT / "tf_serving" / name).is_file()


def test_readme_recipe_serves_the_shipped_config_with_lipmotion_serve(exported_model_base,
                                                                      tmp_path):
    from lipmotion_tf.errors import InputError
    from lipmotion_tf.serving.model_config import read_model_config_file

    readme = (KIT / "README.md").read_text()
    (model,) = _model_server_config().model_config_list.config
    container_path, local_folder = re.search(
        r'sed "s\|([^|]+)\|\$PWD/([^|]+)\|" export/tf_serving/models\.config > (\S+)',
        readme).groups()[:2]
    mounts = dict(re.findall(r'-v "\$PWD/([^:"]+):([^:"]+)(?::ro)?"', readme))
    assert container_path == model.base_path and mounts[local_folder] == model.base_path
    # The recipe's copy, with the exported tiny model as the local folder.
    local = tmp_path / "models.config"
    local.write_text((KIT / "tf_serving" / "models.config").read_text()
                     .replace(container_path, str(exported_model_base)))
    choice = read_model_config_file(local)
    assert (choice.name, choice.base_path, choice.version) == (model.name, exported_model_base, 1)
    if not Path(model.base_path).exists():  # the shipped file as it is: one line, the way out
        with pytest.raises(InputError, match="container path .* see export/README.md") as error:
            read_model_config_file(KIT / "tf_serving" / "models.config")
        assert len(str(error.value).splitlines()) == 1
