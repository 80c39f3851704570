using Caldera.Runtime.Compression;
using Caldera.Runtime.Formats;
using Caldera.Runtime.Tokenization;

namespace Caldera.Compiler.Pipeline;

/// <summary>The tokenizer a compressed model carries: the file's bytes as given, or the checkpoint's embedded vocabulary.</summary>
internal static class TokenizerPayloads
{
    private const long MaxFileBytes = 1L << 30;

    /// <summary>
    /// <paramref name="path"/>'s bytes, its kind recognised like <see cref="ModelTokenizer.Load"/> does; a
    /// <c>tokenizer.json</c> takes the <c>tokenizer_config.json</c> beside it along, when there is one.
    /// </summary>
    public static TokenizerPayload FromFile(string path)
    {
        if (!File.Exists(path)) throw new ModelFormatException(path, "tokenizer file not found");
        long length = new FileInfo(path).Length;
        if (length > MaxFileBytes) throw new ModelFormatException(path, $"{length} bytes is too large for a tokenizer file (limit {MaxFileBytes})");
        byte[] bytes = File.ReadAllBytes(path);
        var start = bytes.AsSpan();
        if (start.StartsWith("\uFEFF"u8)) start = start[3..];
        int first = start.IndexOfAnyExcept(" \t\r\n"u8);
        if (first >= 0 && start[first] == (byte)'{')
        {
            string config = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".", "tokenizer_config.json");
            return new TokenizerPayload(TokenizerPayloadKind.HuggingFaceJson, bytes, File.Exists(config) ? File.ReadAllBytes(config) : default);
        }
        return new TokenizerPayload(Llama2cTokenizerFile.LooksLikeLlama2c(bytes) ? TokenizerPayloadKind.Llama2cBin : TokenizerPayloadKind.SentencePieceModel, bytes);
    }
}
