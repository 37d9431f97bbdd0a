"""``tf.train.Example`` / ``SequenceExample`` message classes on the ``protobuf`` runtime.

TensorBoard (a core dependency) already requires ``protobuf``, but ships no compiled
``example.proto``. The classes are built here from a ``FileDescriptorProto`` written out in
Python (what ``protoc`` would generate, field for field, from TensorFlow's
``example/example.proto`` and ``feature.proto``), in a private descriptor pool so that they never
clash with TensorFlow's own classes in the same process.

Why the protobuf runtime and not a hand-written wire decoder: it parses an ImageNet-style
record 3-4x faster (figures in :mod:`data.tfrecord.parsing`).
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.descriptor import Descriptor
from google.protobuf.message import Message

try:
    from google.protobuf.message_factory import GetMessageClass as _get_class
except ImportError:  # pragma: no cover - protobuf < 4.21
    from google.protobuf import message_factory as _mf

    def _get_class(descriptor: Descriptor) -> type[Message]:
        factory = _mf.MessageFactory(descriptor.file.pool)
        # The stubs describe protobuf >= 4.21, which removed GetPrototype.
        return factory.GetPrototype(descriptor)  # type: ignore[attr-defined]

_F = descriptor_pb2.FieldDescriptorProto


def _field(name: str, number: int, kind: descriptor_pb2.FieldDescriptorProto.Type.ValueType,
           label: descriptor_pb2.FieldDescriptorProto.Label.ValueType = _F.LABEL_OPTIONAL,
           type_name: str = "", oneof_index: int = -1) -> descriptor_pb2.FieldDescriptorProto:
    field = _F(name=name, number=number, type=kind, label=label, json_name=name)
    if type_name:
        field.type_name = type_name
    if oneof_index >= 0:
        field.oneof_index = oneof_index
    return field


def _map_entry(name: str, value_type: str) -> descriptor_pb2.DescriptorProto:
    entry = descriptor_pb2.DescriptorProto(name=name)
    entry.field.extend([_field("key", 1, _F.TYPE_STRING),
                        _field("value", 2, _F.TYPE_MESSAGE, type_name=value_type)])
    entry.options.map_entry = True
    return entry


def _file() -> descriptor_pb2.FileDescriptorProto:
    f = descriptor_pb2.FileDescriptorProto(name="torch_estimator/tensorflow_example.proto",
                                           package="tensorflow", syntax="proto3")
    rep = _F.LABEL_REPEATED
    for name, kind in (("BytesList", _F.TYPE_BYTES), ("FloatList", _F.TYPE_FLOAT),
                       ("Int64List", _F.TYPE_INT64)):
        f.message_type.add(name=name).field.append(_field("value", 1, kind, rep))
    feature = f.message_type.add(name="Feature")
    feature.oneof_decl.add(name="kind")
    for number, (name, list_type) in enumerate((("bytes_list", "BytesList"),
                                                ("float_list", "FloatList"),
                                                ("int64_list", "Int64List")), start=1):
        feature.field.append(_field(name, number, _F.TYPE_MESSAGE,
                                    type_name=f".tensorflow.{list_type}", oneof_index=0))
    features = f.message_type.add(name="Features")
    features.nested_type.append(_map_entry("FeatureEntry", ".tensorflow.Feature"))
    features.field.append(_field("feature", 1, _F.TYPE_MESSAGE, rep,
                                 ".tensorflow.Features.FeatureEntry"))
    feature_list = f.message_type.add(name="FeatureList")
    feature_list.field.append(_field("feature", 1, _F.TYPE_MESSAGE, rep, ".tensorflow.Feature"))
    feature_lists = f.message_type.add(name="FeatureLists")
    feature_lists.nested_type.append(_map_entry("FeatureListEntry", ".tensorflow.FeatureList"))
    feature_lists.field.append(_field("feature_list", 1, _F.TYPE_MESSAGE, rep,
                                      ".tensorflow.FeatureLists.FeatureListEntry"))
    f.message_type.add(name="Example").field.append(
        _field("features", 1, _F.TYPE_MESSAGE, type_name=".tensorflow.Features"))
    sequence = f.message_type.add(name="SequenceExample")
    sequence.field.extend([
        _field("context", 1, _F.TYPE_MESSAGE, type_name=".tensorflow.Features"),
        _field("feature_lists", 2, _F.TYPE_MESSAGE, type_name=".tensorflow.FeatureLists"),
    ])
    return f


_POOL = descriptor_pool.DescriptorPool()
_POOL.Add(_file())
# Built at run time from the descriptor: their fields are not known to a type checker.
_messages: dict[str, Any] = {name: _get_class(_POOL.FindMessageTypeByName(f"tensorflow.{name}"))
             for name in ("BytesList", "FloatList", "Int64List", "Feature", "Features",
                          "FeatureList", "FeatureLists", "Example", "SequenceExample")}

BytesList = _messages["BytesList"]
FloatList = _messages["FloatList"]
Int64List = _messages["Int64List"]
Feature = _messages["Feature"]
Features = _messages["Features"]
FeatureList = _messages["FeatureList"]
FeatureLists = _messages["FeatureLists"]
Example = _messages["Example"]
SequenceExample = _messages["SequenceExample"]
