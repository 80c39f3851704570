using Caldera.Runtime.Hosting;

namespace Caldera.Runtime.Tests.Hosting;

public class StopSequenceFilterTests
{
    [Theory]
    [InlineData(new[] { "Once upon", " a ti", "me there" }, "a time", "Once upon ", true)]
    [InlineData(new[] { "ab", "c", "ab", "d" }, "abd", "abc", true)]
    [InlineData(new[] { "The end", "." }, "THE", "The end.", false)]
    [InlineData(new[] { "x<", "|e", "ot|>y" }, "<|eot|>", "x", true)]
    [InlineData(new[] { "tail <" }, "<stop>", "tail <", false)]
    public void Text_is_cut_at_the_first_stop_sequence_even_across_pieces(string[] pieces, string stop, string expected, bool stopped)
    {
        var filter = new StopSequenceFilter(["unused", stop]);
        var output = new System.Text.StringBuilder();
        foreach (string piece in pieces)
        {
            output.Append(filter.Push(piece));
            if (filter.Stopped) break;
        }
        if (!filter.Stopped) output.Append(filter.Flush());
        Assert.Equal(stopped ? expected : string.Concat(pieces), output.ToString());
        Assert.Equal(stopped, filter.Stopped);
    }

    [Fact]
    public void Without_stop_sequences_every_piece_passes_at_once()
    {
        var filter = new StopSequenceFilter(null);
        Assert.Equal("abc", filter.Push("abc"));
        Assert.Equal("", filter.Flush());
    }
}
