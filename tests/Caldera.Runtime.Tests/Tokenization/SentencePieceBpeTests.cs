using System.Text;
using Caldera.Runtime.Tokenization;
using Microsoft.ML.Tokenizers;

namespace Caldera.Runtime.Tests.Tokenization;

/// <summary>
/// <see cref="SentencePieceBpe"/> against Microsoft.ML.Tokenizers' <see cref="LlamaTokenizer"/> on the same ModelProto:
/// the same ids for every text and the same text for every id sequence, including the cases where the two could part
/// (ties between equal scores, byte fallback, lone surrogates, ids outside the vocabulary).
/// </summary>
public class SentencePieceBpeTests
{
    public static TheoryData<string> Models => ["llama2.model", "llama2.bin", "tok512.bin"];

    /// <summary>The ModelProto of each shared SentencePiece BPE tokenizer this class reads; the .bin files through the vocabulary's conversion.</summary>
    private static byte[] Proto(string name) => name switch
    {
        "llama2.model" => File.ReadAllBytes(TokenizerFiles.Llama2Model),
        "llama2.bin" => Llama2cTokenizerFile.Read(TokenizerFiles.Llama2Bin, File.ReadAllBytes(TokenizerFiles.Llama2Bin)).ToModelProto(),
        "tok512.bin" => Llama2cTokenizerFile.Read(TokenizerFiles.Tok512Bin, File.ReadAllBytes(TokenizerFiles.Tok512Bin)).ToModelProto(),
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    private static (SentencePieceBpe Ours, LlamaTokenizer Library) Both(string name)
    {
        byte[] proto = Proto(name);
        var ours = SentencePieceBpe.TryRead(proto);
        Assert.NotNull(ours);
        return (ours, LlamaTokenizer.Create(new MemoryStream(proto), addBeginOfSentence: false, addEndOfSentence: false));
    }

    private static readonly string[] EdgeTexts =
    [
        "", " ", "  ", "   x", "x   ", "a", "aa", "aaa", "aaaa", "aaaaaaa", "ababab", "   ", "\t", "\n\n", "Hello world", "hello  world",
        "<s>", "</s>", "<unk>", "<0x41>", "▁", "a▁b", "\u2581\u2581 ", "\uD800", "x\uDC00y", "\uDBFF\uDFFF", "😀😀😀", "e\u0301", "\0", "\u00A0",
        TokenizerFiles.Multilingual,
    ];

    [Theory]
    [MemberData(nameof(Models))]
    public void Encodes_every_text_as_the_library_does(string model)
    {
        var (ours, library) = Both(model);
        foreach (string text in EdgeTexts.Concat([TokenizerFiles.TinyStoriesSample]).Concat(RandomTexts(400, seed: 7)))
            Assert.True(library.EncodeToIds(text).SequenceEqual(ours.EncodeToIds(text)), $"{model}: ids of {Escaped(text)}");
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void Decodes_every_id_sequence_as_the_library_does(string model)
    {
        var (ours, library) = Both(model);
        var random = new Random(11);
        int count = ours.Count;
        // Ids near the ends of the vocabulary and of the byte pieces, BOS/EOS/unknown, and outside the vocabulary.
        int[] notable = [-1, 0, 1, 2, 3, 4, 130, 200, 258, 259, 260, count - 1, count, count + 5];
        for (int sequence = 0; sequence < 2000; sequence++)
        {
            int[] ids = new int[random.Next(0, 12)];
            for (int i = 0; i < ids.Length; i++)
                ids[i] = random.Next(4) == 0 ? notable[random.Next(notable.Length)] : random.Next(3, Math.Min(count, 3 + 256 + 200));
            Assert.True(library.Decode(ids) == ours.Decode(ids), $"{model}: text of [{string.Join(", ", ids)}]");
        }
        foreach (string text in EdgeTexts.Concat(RandomTexts(100, seed: 5)))
        {
            var ids = library.EncodeToIds(text);
            Assert.Equal(library.Decode(ids), ours.Decode(ids));
        }
    }

    [Fact]
    public void Llama2_reference_ids_and_special_ids()
    {
        var (ours, _) = Both("llama2.model");
        Assert.Equal([15043, 3186], ours.EncodeToIds("Hello world"));
        Assert.Equal((0, 1, 2, 32000), (ours.UnknownId, ours.BosId, ours.EosId, ours.Count));
        Assert.IsType<SentencePieceBpe>(ModelTokenizer.Load(TokenizerFiles.Llama2Model).Inner);
    }

    [Fact]
    public void Leaves_to_the_library_what_it_does_not_read_exactly()
    {
        // tok512.model collapses repeated spaces (remove_extra_whitespaces): the library's normalizer does that.
        Assert.Null(SentencePieceBpe.TryRead(File.ReadAllBytes(TokenizerFiles.Tok512Model)));
        Assert.IsType<LibraryTokenizer>(ModelTokenizer.Load(TokenizerFiles.Tok512Model).Inner);

        var vocabulary = Llama2cTokenizerFile.Read(TokenizerFiles.Tok512Bin, File.ReadAllBytes(TokenizerFiles.Tok512Bin));
        SentencePieceVocabulary With(Func<int, SentencePieceType, SentencePieceType> type, Func<int, string, string>? piece = null, float? score = null) =>
            new([.. vocabulary.Pieces.Select((p, i) => piece?.Invoke(i, p) ?? p)],
                [.. vocabulary.Scores.Select((s, i) => i == 300 && score is { } x ? x : s)],
                [.. vocabulary.Types.Select((t, i) => type(i, t))], vocabulary.UnknownId, vocabulary.BosId, vocabulary.EosId);
        Assert.NotNull(SentencePieceBpe.TryRead(With((_, t) => t).ToModelProto()));
        Assert.Null(SentencePieceBpe.TryRead(With((i, t) => i == 300 ? SentencePieceType.Unused : t).ToModelProto()));
        Assert.Null(SentencePieceBpe.TryRead(With((i, t) => i == 10 ? SentencePieceType.Normal : t).ToModelProto())); // a gap in the byte pieces
        Assert.Null(SentencePieceBpe.TryRead(With((_, t) => t, (i, p) => i == 301 ? vocabulary.Pieces[300] : p).ToModelProto())); // a duplicate
        Assert.Null(SentencePieceBpe.TryRead(With((_, t) => t, score: float.NaN).ToModelProto()));
    }

    [Fact]
    public void A_truncated_or_damaged_proto_is_left_to_the_library_never_thrown()
    {
        byte[] proto = File.ReadAllBytes(TokenizerFiles.Llama2Model);
        var random = new Random(3);
        for (int i = 0; i < 300; i++)
        {
            byte[] damaged = proto[..random.Next(proto.Length)];
            if (i % 2 == 1 && damaged.Length > 0) damaged[random.Next(damaged.Length)] ^= (byte)(1 << random.Next(8));
            var bpe = SentencePieceBpe.TryRead(damaged); // null or a tokenizer: never an exception
            if (bpe != null) Assert.True(bpe.Count > 256);
        }
    }

    /// <summary>Random texts over ASCII letters and spaces, accented letters, CJK, emoji (surrogate pairs) and lone surrogates.</summary>
    private static IEnumerable<string> RandomTexts(int count, int seed)
    {
        string[] alphabet = ["a", "b", "e", "t", "h", " ", " ", "  ", "\n", ".", "é", "ü", "ç", "日", "本", "語", "😀", "👍🏽", "\uD83D", "\uDE00", "▁", "<", ">", "0x", "1"];
        var random = new Random(seed);
        for (int i = 0; i < count; i++)
        {
            var text = new StringBuilder();
            for (int n = random.Next(1, 24); n > 0; n--) text.Append(alphabet[random.Next(alphabet.Length)]);
            yield return text.ToString();
        }
    }

    private static string Escaped(string text) => string.Concat(text.Select(c => c is >= ' ' and < '\x7f' ? c.ToString() : $"\\u{(int)c:X4}"));
}
