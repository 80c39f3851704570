using System.Buffers.Binary;
using System.Text;
using Caldera.Runtime.Formats;

namespace Caldera.Runtime.Tokenization;

/// <summary>
/// Reads llama2.c's <c>tokenizer.bin</c>: int32 max_token_length, then for each token (the count is not
/// stored; the file ends after the last one) f32 score, int32 byte length, UTF-8 bytes. llama2.c's export
/// wrote BOS and EOS as "\n&lt;s&gt;\n" and "\n&lt;/s&gt;\n" and replaced SentencePiece's "▁" with a
/// space; both are undone here to recover the SentencePiece vocabulary.
/// </summary>
internal static class Llama2cTokenizerFile
{
    private const int HeaderBytes = sizeof(int);
    private const int RecordHeaderBytes = sizeof(float) + sizeof(int);

    /// <summary>No real vocabulary comes near this; a larger value means this is not a tokenizer.bin.</summary>
    private const int MaxTokenLengthLimit = 1 << 16;

    private const string ExportedBos = "\n<s>\n", ExportedEos = "\n</s>\n", Unknown = "<unk>";

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>
    /// Whether <paramref name="bytes"/> starts like a tokenizer.bin: a small positive little-endian int32.
    /// A SentencePiece protobuf cannot start that way (its third byte would be a zero field tag).
    /// </summary>
    public static bool LooksLikeLlama2c(ReadOnlySpan<byte> bytes) =>
        bytes.Length >= HeaderBytes && bytes[2] == 0 && bytes[3] == 0 && BinaryPrimitives.ReadInt32LittleEndian(bytes) > 0;

    public static SentencePieceVocabulary Read(string path, ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < HeaderBytes)
            throw new ModelFormatException(path, $"llama2.c tokenizer: {bytes.Length} bytes is too short for the int32 max_token_length header");
        int maxTokenLength = BinaryPrimitives.ReadInt32LittleEndian(bytes);
        if (maxTokenLength is <= 0 or > MaxTokenLengthLimit)
            throw ModelFormatException.ForSetting(path, "max_token_length",
                $"{maxTokenLength} is not in 1..{MaxTokenLengthLimit}; is this a llama2.c tokenizer.bin?");

        var pieces = new List<string>();
        var scores = new List<float>();
        long offset = HeaderBytes;
        while (offset < bytes.Length)
        {
            int id = pieces.Count;
            if (bytes.Length - offset < RecordHeaderBytes)
                throw new ModelFormatException(path,
                    $"llama2.c tokenizer: token {id} is truncated: its score and length need {RecordHeaderBytes} bytes at offset {offset}, " +
                    $"the file ends at {bytes.Length}");
            float score = BinaryPrimitives.ReadSingleLittleEndian(bytes[(int)offset..]);
            int length = BinaryPrimitives.ReadInt32LittleEndian(bytes[((int)offset + sizeof(float))..]);
            offset += RecordHeaderBytes;
            if (length <= 0 || length > maxTokenLength)
                throw new ModelFormatException(path,
                    $"llama2.c tokenizer: token {id} has length {length}, outside 1..max_token_length ({maxTokenLength})");
            if (length > bytes.Length - offset)
                throw new ModelFormatException(path,
                    $"llama2.c tokenizer: token {id} needs {length} bytes at offset {offset}, past the end of the {bytes.Length}-byte file (truncated?)");
            if (!float.IsFinite(score))
                throw new ModelFormatException(path, $"llama2.c tokenizer: token {id} has score {score}; scores must be finite");
            string text;
            try
            {
                text = StrictUtf8.GetString(bytes.Slice((int)offset, length));
            }
            catch (DecoderFallbackException e)
            {
                throw new ModelFormatException(path, $"llama2.c tokenizer: token {id} is not valid UTF-8", e);
            }
            pieces.Add(text);
            scores.Add(score);
            offset += length;
        }
        return ToSentencePiece(path, pieces, scores);
    }

    private static SentencePieceVocabulary ToSentencePiece(string path, List<string> exported, List<float> scores)
    {
        int bos = exported.IndexOf(ExportedBos), eos = exported.IndexOf(ExportedEos), unk = exported.IndexOf(Unknown);
        if (bos < 0 || eos < 0 || unk < 0)
            throw new ModelFormatException(path,
                $"llama2.c tokenizer: {exported.Count} tokens but no {(unk < 0 ? "<unk>" : bos < 0 ? "BOS (\"\\n<s>\\n\")" : "EOS (\"\\n</s>\\n\")")} " +
                "token; re-export it with llama2.c's tokenizer.py");

        var pieces = new string[exported.Count];
        var types = new SentencePieceType[exported.Count];
        for (int i = 0; i < pieces.Length; i++)
        {
            string piece = exported[i];
            (pieces[i], types[i]) =
                i == unk ? (piece, SentencePieceType.Unknown)
                : i == bos ? ("<s>", SentencePieceType.Control)
                : i == eos ? ("</s>", SentencePieceType.Control)
                : SentencePieceVocabulary.IsBytePiece(piece) ? (piece, SentencePieceType.Byte)
                : (piece.Replace(' ', '\u2581'), SentencePieceType.Normal);
        }
        return new SentencePieceVocabulary(pieces, [.. scores], types, unk, bos, eos);
    }
}
