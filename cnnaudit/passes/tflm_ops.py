"""The builtin operators TensorFlow Lite Micro's op resolver can register, with the
MicroMutableOpResolver method that adds each.

Source: tensorflow/tflite-micro, tensorflow/lite/micro/micro_mutable_op_resolver.h at
commit 90b983c2b3f1480642e040bbd2ddb37b998f3424 (2026-08-20): every `AddXxx()` method
that calls `AddBuiltin(BuiltinOperator_XXX, ...)`.
"""

from __future__ import annotations

_TABLE = """
ABS=AddAbs ADD=AddAdd ADD_N=AddAddN ARG_MAX=AddArgMax ARG_MIN=AddArgMin
ASSIGN_VARIABLE=AddAssignVariable AVERAGE_POOL_2D=AddAveragePool2D
BATCH_MATMUL=AddBatchMatMul BATCH_TO_SPACE_ND=AddBatchToSpaceNd
BROADCAST_ARGS=AddBroadcastArgs BROADCAST_TO=AddBroadcastTo CALL_ONCE=AddCallOnce
CAST=AddCast CEIL=AddCeil CONCATENATION=AddConcatenation CONV_2D=AddConv2D COS=AddCos
CUMSUM=AddCumSum DEPTH_TO_SPACE=AddDepthToSpace DEPTHWISE_CONV_2D=AddDepthwiseConv2D
DEQUANTIZE=AddDequantize DIV=AddDiv DYNAMIC_UPDATE_SLICE=AddDynamicUpdateSlice
EMBEDDING_LOOKUP=AddEmbeddingLookup ELU=AddElu EQUAL=AddEqual EXP=AddExp
EXPAND_DIMS=AddExpandDims FILL=AddFill FLOOR=AddFloor FLOOR_DIV=AddFloorDiv
FLOOR_MOD=AddFloorMod FULLY_CONNECTED=AddFullyConnected GATHER=AddGather
GATHER_ND=AddGatherNd GREATER=AddGreater GREATER_EQUAL=AddGreaterEqual
HARD_SWISH=AddHardSwish IF=AddIf L2_NORMALIZATION=AddL2Normalization L2_POOL_2D=AddL2Pool2D
LEAKY_RELU=AddLeakyRelu LESS=AddLess LESS_EQUAL=AddLessEqual LOG=AddLog
LOGICAL_AND=AddLogicalAnd LOGICAL_NOT=AddLogicalNot LOGICAL_OR=AddLogicalOr
LOGISTIC=AddLogistic LOG_SOFTMAX=AddLogSoftmax MAXIMUM=AddMaximum MAX_POOL_2D=AddMaxPool2D
MIRROR_PAD=AddMirrorPad MEAN=AddMean MINIMUM=AddMinimum MUL=AddMul NEG=AddNeg
NOT_EQUAL=AddNotEqual PACK=AddPack PAD=AddPad PADV2=AddPadV2 PRELU=AddPrelu
QUANTIZE=AddQuantize READ_VARIABLE=AddReadVariable REDUCE_ALL=AddReduceAll
REDUCE_MAX=AddReduceMax REDUCE_MIN=AddReduceMin RELU=AddRelu RELU6=AddRelu6
RESHAPE=AddReshape RESIZE_BILINEAR=AddResizeBilinear
RESIZE_NEAREST_NEIGHBOR=AddResizeNearestNeighbor REVERSE_V2=AddReverseV2 ROUND=AddRound
RSQRT=AddRsqrt SELECT_V2=AddSelectV2 SHAPE=AddShape SIN=AddSin SLICE=AddSlice
SOFTMAX=AddSoftmax SPACE_TO_BATCH_ND=AddSpaceToBatchNd SPACE_TO_DEPTH=AddSpaceToDepth
SPLIT=AddSplit SPLIT_V=AddSplitV SQUEEZE=AddSqueeze SQRT=AddSqrt SQUARE=AddSquare
SQUARED_DIFFERENCE=AddSquaredDifference STRIDED_SLICE=AddStridedSlice SUB=AddSub SUM=AddSum
SVDF=AddSvdf TANH=AddTanh TRANSPOSE_CONV=AddTransposeConv TRANSPOSE=AddTranspose
UNPACK=AddUnpack UNIDIRECTIONAL_SEQUENCE_LSTM=AddUnidirectionalSequenceLSTM
VAR_HANDLE=AddVarHandle WHILE=AddWhile ZEROS_LIKE=AddZerosLike
"""

RESOLVER_METHOD: dict[str, str] = dict(pair.split("=") for pair in _TABLE.split())

# Custom operators TFLite Micro ships kernels for (registered with AddCustom by name or
# with their own Add method).
KNOWN_CUSTOM: dict[str, str] = {
    "TFLite_Detection_PostProcess": "AddDetectionPostprocess",
    "ethos-u": "AddEthosU",
}
