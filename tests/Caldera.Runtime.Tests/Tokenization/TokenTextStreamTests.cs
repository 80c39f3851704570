using System.Text;
using Caldera.Runtime.Tokenization;

namespace Caldera.Runtime.Tests.Tokenization;

public class TokenTextStreamTests
{
    /// <summary>Anchor (the last emitted tokens) + pending tokens; pending stays under the stream's cap of 8.</summary>
    private const int MaxExpectedWindow = 12;

    public static TheoryData<string> Tokenizers => ["llama2", "tok512", "llama3"];

    private static ModelTokenizer Get(string name) => name switch
    {
        "llama2" => TokenizerFiles.Llama2,
        "tok512" => TokenizerFiles.Tok512,
        _ => TokenizerFiles.Llama3,
    };

    [Theory]
    [MemberData(nameof(Tokenizers))]
    public void Streamed_text_equals_decode_of_whole_sequence_on_long_real_text(string name)
    {
        var tokenizer = Get(name);
        string text = TokenizerFiles.TinyStoriesSample[..4000] + "\n\n" + TokenizerFiles.Multilingual + " " +
                      TokenizerFiles.Multilingual;
        int[] ids = tokenizer.Encode(text);
        string whole = tokenizer.Decode(ids);

        var stream = new TokenTextStream(tokenizer);
        var streamed = new StringBuilder();
        int maxWindow = 0;
        foreach (int id in ids)
        {
            streamed.Append(stream.Push(id));
            maxWindow = Math.Max(maxWindow, stream.WindowLength);
            // What has been emitted is always final: a prefix of the whole decode, never a broken character.
            Assert.True(whole.AsSpan().StartsWith(streamed.ToString()), $"streamed text diverged after {streamed.Length} chars");
        }
        streamed.Append(stream.Flush());

        Assert.Equal(whole, streamed.ToString());
        Assert.InRange(maxWindow, 1, MaxExpectedWindow);
    }

    [Fact]
    public void Byte_level_emoji_is_held_until_its_last_byte()
    {
        var llama3 = TokenizerFiles.Llama3;
        int[] ids = llama3.Encode("😀", addBos: false);
        Assert.True(ids.Length > 1, "the emoji should span several byte-level tokens");
        var stream = new TokenTextStream(llama3);
        for (int i = 0; i < ids.Length - 1; i++) Assert.Equal("", stream.Push(ids[i]));
        Assert.Equal("😀", stream.Push(ids[^1]));
        Assert.Equal("", stream.Flush());
    }

    [Fact]
    public void Byte_fallback_character_is_held_until_its_last_byte_and_flush_gives_what_decode_gives()
    {
        var tok512 = TokenizerFiles.Tok512;
        int[] ids = tok512.Encode("日本", addBos: false); // not in the 512-piece vocabulary: ▁ then 3 + 3 byte pieces
        Assert.Equal(7, ids.Length);
        var stream = new TokenTextStream(tok512);
        var streamed = new StringBuilder();
        for (int i = 0; i < ids.Length - 1; i++) streamed.Append(stream.Push(ids[i]));
        Assert.Equal("日", streamed.ToString());

        // Generation stops mid-character: Flush hands over what Decode shows for the same ids.
        streamed.Append(stream.Flush());
        Assert.Equal(tok512.Decode(ids[..^1]), streamed.ToString());
    }

    [Fact]
    public void SentencePiece_space_after_a_control_token_is_kept()
    {
        // Decode skips control tokens but keeps the following word's space; a window that began at the
        // control token would drop it.
        var llama2 = TokenizerFiles.Llama2;
        int[] ids = [1, 15043, 2, 3186, 3186];
        var stream = new TokenTextStream(llama2);
        string streamed = string.Concat(ids.Select(stream.Push)) + stream.Flush();
        Assert.Equal("Hello world world", llama2.Decode(ids));
        Assert.Equal(llama2.Decode(ids), streamed);
    }

    [Fact]
    public void Many_control_tokens_do_not_grow_the_window()
    {
        var llama2 = TokenizerFiles.Llama2;
        var stream = new TokenTextStream(llama2);
        var streamed = new StringBuilder(stream.Push(15043));
        for (int i = 0; i < 100; i++)
        {
            streamed.Append(stream.Push(2));
            Assert.InRange(stream.WindowLength, 1, MaxExpectedWindow);
        }
        streamed.Append(stream.Push(3186)).Append(stream.Flush());
        Assert.Equal("Hello world", streamed.ToString());
    }
}
