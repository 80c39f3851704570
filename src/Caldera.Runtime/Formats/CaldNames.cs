using Caldera.Runtime.Compression;
using Caldera.Runtime.Model;
using QKinds = Caldera.Common.ModelDescriptionSchema.QKinds;

namespace Caldera.Runtime.Formats;

/// <summary>The manifest's names for enums and element types, one table for writer and reader.</summary>
internal static class CaldNames
{
    private static readonly (TokenizerPayloadKind Kind, string Name)[] Tokenizers =
    [
        (TokenizerPayloadKind.SentencePieceModel, "sentencepiece_model"),
        (TokenizerPayloadKind.Llama2cBin, "llama2c_bin"),
        (TokenizerPayloadKind.HuggingFaceJson, "huggingface_json"),
        (TokenizerPayloadKind.EmbeddedVocabulary, "embedded_vocabulary"),
    ];

    private static readonly (TensorType Type, string Name)[] Dtypes =
        [(TensorType.F32, "f32"), (TensorType.F16, "f16"), (TensorType.BF16, "bf16"), (TensorType.Int6Blocks, "int6_blocks"), (TensorType.Int4Blocks, "int4_blocks")];

    public static string Tokenizer(TokenizerPayloadKind kind) => Tokenizers.First(t => t.Kind == kind).Name;
    public static TokenizerPayloadKind? Tokenizer(string name) => Tokenizers.FirstOrDefault(t => t.Name == name) is { Name: not null } t ? t.Kind : null;
    public static IEnumerable<string> TokenizerNames => Tokenizers.Select(t => t.Name);

    public static string Dtype(TensorType type) => Dtypes.First(t => t.Type == type).Name;
    public static TensorType? Dtype(string name) => Dtypes.FirstOrDefault(t => t.Name == name) is { Name: not null } t ? t.Type : null;
    public static IEnumerable<string> DtypeNames => Dtypes.Select(t => t.Name);

    /// <summary>The compression methods a .cald records (caldera compress --method).</summary>
    public static readonly string[] Methods = ["caldera", "ldlq", "rtn"];

    /// <summary>Q's code; the model description (<see cref="Caldera.Common.ModelDescriptionSchema"/>) spells it the same way.</summary>
    public static string QKind(QCodeKind kind) => kind == QCodeKind.E8P ? QKinds.E8P : QKinds.Uniform;
    public static QCodeKind? QKind(string name) => name switch { QKinds.E8P => QCodeKind.E8P, QKinds.Uniform => QCodeKind.Uniform, _ => null };

    public static string Pairing(RopePairing pairing) => pairing == RopePairing.Interleaved ? "interleaved" : "rotate_half";
    public static RopePairing? Pairing(string name) => name switch { "interleaved" => RopePairing.Interleaved, "rotate_half" => RopePairing.RotateHalf, _ => null };

    /// <summary>b-bit unsigned values packed LSB-first (see <see cref="BitPacking"/>).</summary>
    public static string Packed(int bits) => $"packed{bits}";
}
