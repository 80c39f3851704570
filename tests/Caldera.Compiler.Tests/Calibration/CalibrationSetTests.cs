using Caldera.Compiler.Calibration;

namespace Caldera.Compiler.Tests.Calibration;

/// <summary>The calibration sequences a pass reads.</summary>
public class CalibrationSetTests
{
    [Theory]
    [InlineData(10, 4, new[] { 0, 3, 6, 9 })]
    [InlineData(10, 5, new[] { 0, 2, 4, 6, 8 })]
    [InlineData(128, 32, new[] { 0, 4, 8, 124 })]
    [InlineData(3, 32, new[] { 0, 1, 2 })]
    public void Every_takes_evenly_spaced_sequences_in_order_and_no_more_than_asked(int samples, int count, int[] expectedSome)
    {
        const int length = 3;
        // Sequence i holds the tokens 100·i, 100·i + 1, 100·i + 2.
        var set = CalibrationSet.FromTokens([.. Enumerable.Range(0, samples).SelectMany(i => Enumerable.Range(100 * i, length))], length, "test");

        var subset = set.Every(count);

        Assert.InRange(subset.Samples, 1, count);
        Assert.Equal(length, subset.SequenceLength);
        int[] firsts = [.. Enumerable.Range(0, subset.Samples).Select(i => subset.Sequence(i)[0] / 100)];
        Assert.Equal(firsts.Order(), firsts);
        Assert.All(expectedSome, e => Assert.Contains(e, firsts));
        Assert.All(Enumerable.Range(0, subset.Samples), i => Assert.Equal(Enumerable.Range(100 * firsts[i], length), subset.Sequence(i).ToArray()));
    }
}
