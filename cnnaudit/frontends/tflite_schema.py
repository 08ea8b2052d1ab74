"""The parts of the TFLite flatbuffer schema that cnnaudit reads: field slots and defaults
of the tables it walks, the BuiltinOperator names and the BuiltinOptions union members.

Taken from the TFLite schema, `tensorflow/compiler/mlir/lite/schema/schema.fbs` in
tflite-micro at commit 90b983c2 (the schema `tensorflow/lite/schema/schema_generated.h`
there is generated from; TensorFlow keeps the same file at `tensorflow/lite/schema/`).
A field's slot is its position among its table's fields in declaration order, a union
field taking two slots (its type, then its value); its vtable entry is at byte 4 + 2 * slot.
Fields are only ever added at the end of a table, so these slots hold for files written by
any converter version. Formats are struct characters: b int8 (`byte`, enums declared
`: byte`), B uint8 (`ubyte`, union types), i int32, I uint32, Q uint64, f float32, ? bool.
"""

from __future__ import annotations

from .flatbuf import Scalar


class Model:
    OPERATOR_CODES = 1  # [OperatorCode]
    SUBGRAPHS = 2  # [SubGraph]
    BUFFERS = 4  # [Buffer]


class SubGraph:
    TENSORS = 0  # [Tensor]
    INPUTS = 1  # [int]
    OUTPUTS = 2  # [int]
    OPERATORS = 3  # [Operator]
    NAME = 4  # string


class Tensor:
    SHAPE = 0  # [int]
    TYPE = Scalar(1, "b", 0)  # TensorType
    BUFFER = Scalar(2, "I", 0)  # index into Model.buffers; 0 is the empty buffer
    NAME = 3  # string
    QUANTIZATION = 4  # QuantizationParameters
    IS_VARIABLE = Scalar(5, "?", False)
    SHAPE_SIGNATURE = 7  # [int], -1 for an unknown dimension (slot 6 is sparsity)


class QuantizationParameters:
    SCALE = 2  # [float] (slots 0 and 1: min, max)
    ZERO_POINT = 3  # [long]
    QUANTIZED_DIMENSION = Scalar(6, "i", 0)  # (slots 4 and 5: the details union)


class Operator:
    OPCODE_INDEX = Scalar(0, "I", 0)
    INPUTS = 1  # [int], -1 for an omitted optional input
    OUTPUTS = 2  # [int]
    BUILTIN_OPTIONS_TYPE = Scalar(3, "B", 0)  # the BuiltinOptions union: its type...
    BUILTIN_OPTIONS = 4  # ...and its table


class OperatorCode:
    DEPRECATED_BUILTIN_CODE = Scalar(0, "b", 0)  # the code when it is below 127
    CUSTOM_CODE = 1  # string
    VERSION = Scalar(2, "i", 1)
    BUILTIN_CODE = Scalar(3, "i", 0)  # BuiltinOperator; TFLite takes the larger of the two


class Buffer:
    DATA = 0  # [ubyte]
    OFFSET = Scalar(1, "Q", 0)  # > 1: the data is outside the flatbuffer (models > 2 GB)
    SIZE = Scalar(2, "Q", 0)


_PADDING = Scalar(0, "b", 0)
_STRIDE_W = Scalar(1, "i", 0)
_STRIDE_H = Scalar(2, "i", 0)

# The builtin options tables the frontend shows (tflite_file.OPTION_FIELDS), by field,
# with the accessor names of the generated code (`StrideW` for `stride_w`).
OPTIONS: dict[str, dict[str, Scalar]] = {
    "Conv2DOptions": {
        "Padding": _PADDING, "StrideW": _STRIDE_W, "StrideH": _STRIDE_H,
        "FusedActivationFunction": Scalar(3, "b", 0), "DilationWFactor": Scalar(4, "i", 1),
        "DilationHFactor": Scalar(5, "i", 1),
    },
    "DepthwiseConv2DOptions": {
        "Padding": _PADDING, "StrideW": _STRIDE_W, "StrideH": _STRIDE_H,
        "DepthMultiplier": Scalar(3, "i", 0), "FusedActivationFunction": Scalar(4, "b", 0),
        "DilationWFactor": Scalar(5, "i", 1), "DilationHFactor": Scalar(6, "i", 1),
    },
    "FullyConnectedOptions": {
        "FusedActivationFunction": Scalar(0, "b", 0),
        "KeepNumDims": Scalar(2, "?", False),  # (slot 1: weights_format)
    },
    "Pool2DOptions": {
        "Padding": _PADDING, "StrideW": _STRIDE_W, "StrideH": _STRIDE_H,
        "FilterWidth": Scalar(3, "i", 0), "FilterHeight": Scalar(4, "i", 0),
        "FusedActivationFunction": Scalar(5, "b", 0),
    },
    "AddOptions": {"FusedActivationFunction": Scalar(0, "b", 0)},
    "SubOptions": {"FusedActivationFunction": Scalar(0, "b", 0)},
    "MulOptions": {"FusedActivationFunction": Scalar(0, "b", 0)},
    "DivOptions": {"FusedActivationFunction": Scalar(0, "b", 0)},
    "ConcatenationOptions": {
        "Axis": Scalar(0, "i", 0), "FusedActivationFunction": Scalar(1, "b", 0),
    },
    "TransposeConvOptions": {
        "Padding": _PADDING, "StrideW": _STRIDE_W, "StrideH": _STRIDE_H,
        "FusedActivationFunction": Scalar(3, "b", 0),
    },
    "SoftmaxOptions": {"Beta": Scalar(0, "f", 0.0)},
    "ReducerOptions": {"KeepDims": Scalar(0, "?", False)},
    "BatchMatMulOptions": {"AdjX": Scalar(0, "?", False), "AdjY": Scalar(1, "?", False)},
}

CUSTOM = 32  # BuiltinOperator.CUSTOM: the op is named by OperatorCode.custom_code

# enum BuiltinOperator : int32, by value (0 to 209, no gaps).
BUILTIN_OPERATOR_NAMES = (
    "ADD", "AVERAGE_POOL_2D", "CONCATENATION", "CONV_2D", "DEPTHWISE_CONV_2D", "DEPTH_TO_SPACE",
    "DEQUANTIZE", "EMBEDDING_LOOKUP", "FLOOR", "FULLY_CONNECTED", "HASHTABLE_LOOKUP",
    "L2_NORMALIZATION", "L2_POOL_2D", "LOCAL_RESPONSE_NORMALIZATION", "LOGISTIC", "LSH_PROJECTION",
    "LSTM", "MAX_POOL_2D", "MUL", "RELU", "RELU_N1_TO_1", "RELU6", "RESHAPE", "RESIZE_BILINEAR",
    "RNN", "SOFTMAX", "SPACE_TO_DEPTH", "SVDF", "TANH", "CONCAT_EMBEDDINGS", "SKIP_GRAM", "CALL",
    "CUSTOM", "EMBEDDING_LOOKUP_SPARSE", "PAD", "UNIDIRECTIONAL_SEQUENCE_RNN", "GATHER",
    "BATCH_TO_SPACE_ND", "SPACE_TO_BATCH_ND", "TRANSPOSE", "MEAN", "SUB", "DIV", "SQUEEZE",
    "UNIDIRECTIONAL_SEQUENCE_LSTM", "STRIDED_SLICE", "BIDIRECTIONAL_SEQUENCE_RNN", "EXP",
    "TOPK_V2", "SPLIT", "LOG_SOFTMAX", "DELEGATE", "BIDIRECTIONAL_SEQUENCE_LSTM", "CAST", "PRELU",
    "MAXIMUM", "ARG_MAX", "MINIMUM", "LESS", "NEG", "PADV2", "GREATER", "GREATER_EQUAL",
    "LESS_EQUAL", "SELECT", "SLICE", "SIN", "TRANSPOSE_CONV", "SPARSE_TO_DENSE", "TILE",
    "EXPAND_DIMS", "EQUAL", "NOT_EQUAL", "LOG", "SUM", "SQRT", "RSQRT", "SHAPE", "POW", "ARG_MIN",
    "FAKE_QUANT", "REDUCE_PROD", "REDUCE_MAX", "PACK", "LOGICAL_OR", "ONE_HOT", "LOGICAL_AND",
    "LOGICAL_NOT", "UNPACK", "REDUCE_MIN", "FLOOR_DIV", "REDUCE_ANY", "SQUARE", "ZEROS_LIKE",
    "FILL", "FLOOR_MOD", "RANGE", "RESIZE_NEAREST_NEIGHBOR", "LEAKY_RELU", "SQUARED_DIFFERENCE",
    "MIRROR_PAD", "ABS", "SPLIT_V", "UNIQUE", "CEIL", "REVERSE_V2", "ADD_N", "GATHER_ND", "COS",
    "WHERE", "RANK", "ELU", "REVERSE_SEQUENCE", "MATRIX_DIAG", "QUANTIZE", "MATRIX_SET_DIAG",
    "ROUND", "HARD_SWISH", "IF", "WHILE", "NON_MAX_SUPPRESSION_V4", "NON_MAX_SUPPRESSION_V5",
    "SCATTER_ND", "SELECT_V2", "DENSIFY", "SEGMENT_SUM", "BATCH_MATMUL",
    "PLACEHOLDER_FOR_GREATER_OP_CODES", "CUMSUM", "CALL_ONCE", "BROADCAST_TO", "RFFT2D", "CONV_3D",
    "IMAG", "REAL", "COMPLEX_ABS", "HASHTABLE", "HASHTABLE_FIND", "HASHTABLE_IMPORT",
    "HASHTABLE_SIZE", "REDUCE_ALL", "CONV_3D_TRANSPOSE", "VAR_HANDLE", "READ_VARIABLE",
    "ASSIGN_VARIABLE", "BROADCAST_ARGS", "RANDOM_STANDARD_NORMAL", "BUCKETIZE", "RANDOM_UNIFORM",
    "MULTINOMIAL", "GELU", "DYNAMIC_UPDATE_SLICE", "RELU_0_TO_1", "UNSORTED_SEGMENT_PROD",
    "UNSORTED_SEGMENT_MAX", "UNSORTED_SEGMENT_SUM", "ATAN2", "UNSORTED_SEGMENT_MIN", "SIGN",
    "BITCAST", "BITWISE_XOR", "RIGHT_SHIFT", "STABLEHLO_LOGISTIC", "STABLEHLO_ADD",
    "STABLEHLO_DIVIDE", "STABLEHLO_MULTIPLY", "STABLEHLO_MAXIMUM", "STABLEHLO_RESHAPE",
    "STABLEHLO_CLAMP", "STABLEHLO_CONCATENATE", "STABLEHLO_BROADCAST_IN_DIM",
    "STABLEHLO_CONVOLUTION", "STABLEHLO_SLICE", "STABLEHLO_CUSTOM_CALL", "STABLEHLO_REDUCE",
    "STABLEHLO_ABS", "STABLEHLO_AND", "STABLEHLO_COSINE", "STABLEHLO_EXPONENTIAL",
    "STABLEHLO_FLOOR", "STABLEHLO_LOG", "STABLEHLO_MINIMUM", "STABLEHLO_NEGATE", "STABLEHLO_OR",
    "STABLEHLO_POWER", "STABLEHLO_REMAINDER", "STABLEHLO_RSQRT", "STABLEHLO_SELECT",
    "STABLEHLO_SUBTRACT", "STABLEHLO_TANH", "STABLEHLO_SCATTER", "STABLEHLO_COMPARE",
    "STABLEHLO_CONVERT", "STABLEHLO_DYNAMIC_SLICE", "STABLEHLO_DYNAMIC_UPDATE_SLICE",
    "STABLEHLO_PAD", "STABLEHLO_IOTA", "STABLEHLO_DOT_GENERAL", "STABLEHLO_REDUCE_WINDOW",
    "STABLEHLO_SORT", "STABLEHLO_WHILE", "STABLEHLO_GATHER", "STABLEHLO_TRANSPOSE", "DILATE",
    "STABLEHLO_RNG_BIT_GENERATOR", "REDUCE_WINDOW", "STABLEHLO_COMPOSITE", "STABLEHLO_SHIFT_LEFT",
    "STABLEHLO_CBRT", "STABLEHLO_CASE",
)

# union BuiltinOptions, by type: 0 is NONE, then the members in declaration order.
BUILTIN_OPTIONS_NAMES = (
    "NONE", "Conv2DOptions", "DepthwiseConv2DOptions", "ConcatEmbeddingsOptions",
    "LSHProjectionOptions", "Pool2DOptions", "SVDFOptions", "RNNOptions", "FullyConnectedOptions",
    "SoftmaxOptions", "ConcatenationOptions", "AddOptions", "L2NormOptions",
    "LocalResponseNormalizationOptions", "LSTMOptions", "ResizeBilinearOptions", "CallOptions",
    "ReshapeOptions", "SkipGramOptions", "SpaceToDepthOptions", "EmbeddingLookupSparseOptions",
    "MulOptions", "PadOptions", "GatherOptions", "BatchToSpaceNDOptions", "SpaceToBatchNDOptions",
    "TransposeOptions", "ReducerOptions", "SubOptions", "DivOptions", "SqueezeOptions",
    "SequenceRNNOptions", "StridedSliceOptions", "ExpOptions", "TopKV2Options", "SplitOptions",
    "LogSoftmaxOptions", "CastOptions", "DequantizeOptions", "MaximumMinimumOptions",
    "ArgMaxOptions", "LessOptions", "NegOptions", "PadV2Options", "GreaterOptions",
    "GreaterEqualOptions", "LessEqualOptions", "SelectOptions", "SliceOptions",
    "TransposeConvOptions", "SparseToDenseOptions", "TileOptions", "ExpandDimsOptions",
    "EqualOptions", "NotEqualOptions", "ShapeOptions", "PowOptions", "ArgMinOptions",
    "FakeQuantOptions", "PackOptions", "LogicalOrOptions", "OneHotOptions", "LogicalAndOptions",
    "LogicalNotOptions", "UnpackOptions", "FloorDivOptions", "SquareOptions", "ZerosLikeOptions",
    "FillOptions", "BidirectionalSequenceLSTMOptions", "BidirectionalSequenceRNNOptions",
    "UnidirectionalSequenceLSTMOptions", "FloorModOptions", "RangeOptions",
    "ResizeNearestNeighborOptions", "LeakyReluOptions", "SquaredDifferenceOptions",
    "MirrorPadOptions", "AbsOptions", "SplitVOptions", "UniqueOptions", "ReverseV2Options",
    "AddNOptions", "GatherNdOptions", "CosOptions", "WhereOptions", "RankOptions",
    "ReverseSequenceOptions", "MatrixDiagOptions", "QuantizeOptions", "MatrixSetDiagOptions",
    "HardSwishOptions", "IfOptions", "WhileOptions", "DepthToSpaceOptions",
    "NonMaxSuppressionV4Options", "NonMaxSuppressionV5Options", "ScatterNdOptions",
    "SelectV2Options", "DensifyOptions", "SegmentSumOptions", "BatchMatMulOptions",
    "CumsumOptions", "CallOnceOptions", "BroadcastToOptions", "Rfft2dOptions", "Conv3DOptions",
    "HashtableOptions", "HashtableFindOptions", "HashtableImportOptions", "HashtableSizeOptions",
    "VarHandleOptions", "ReadVariableOptions", "AssignVariableOptions", "RandomOptions",
    "BucketizeOptions", "GeluOptions", "DynamicUpdateSliceOptions", "UnsortedSegmentProdOptions",
    "UnsortedSegmentMaxOptions", "UnsortedSegmentMinOptions", "UnsortedSegmentSumOptions",
    "ATan2Options", "SignOptions", "BitcastOptions", "BitwiseXorOptions", "RightShiftOptions",
)
