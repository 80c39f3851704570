using System.Runtime.Intrinsics;
using Caldera.Compiler.Quantizers;

namespace Caldera.Compiler.Tests.Quantizers;

/// <summary>
/// The permutation-class search against the brute-force reference (<see cref="E8PNearest.SearchReference"/>,
/// itself checked against all 65,536 codewords in <see cref="E8PCodebookTests"/>): whenever it certifies a
/// winner, the winner must be the reference's candidate exactly; and it must certify almost every ordinary input,
/// or it would be the reference in disguise.
/// </summary>
public class E8PClassSearchTests
{
    /// <summary>Gaussian inputs near the codebook's scale have a unique winner with a wide lead almost always.</summary>
    private const double MinimumCertifiedShare = 0.97;

    public static TheoryData<string, float> Scales => new()
    {
        { "small", 0.3f },
        { "unit-rms 1.03", 1.03f },
        { "wide", 2.5f },
        { "large", 40f },
    };

    [Theory]
    [MemberData(nameof(Scales))]
    public void Certified_winners_are_the_reference_candidate_and_almost_all_are_certified(string name, float sigma)
    {
        var random = new Random(name.Length * 31 + 7);
        int certified = 0;
        const int Trials = 20000;
        for (int trial = 0; trial < Trials; trial++)
        {
            float[] x = TestData.Gaussian(random, 8, sigma);
            int expected = E8PNearest.SearchReference(x);
            if (E8PClassSearch.TrySearch(x, out int candidate))
            {
                certified++;
                Assert.True(expected == candidate, $"{name} #{trial}: class search {candidate}, reference {expected} for [{string.Join(", ", x)}]");
            }
            Assert.Equal(expected, E8PClassSearch.Search(x));
        }
        Assert.True(certified >= MinimumCertifiedShare * Trials, $"{name}: only {certified} of {Trials} certified");
    }

    [Fact]
    public void Ties_and_degenerate_inputs_follow_the_reference()
    {
        var random = new Random(23);
        float[] values = [0.25f, -0.25f, 0.75f, -0.75f, 1.25f, 0.5f, 0f, -1f, 1.5f, 2.75f, 1e-30f, -3.25f];
        for (int trial = 0; trial < 5000; trial++)
        {
            var x = new float[8];
            for (int i = 0; i < 8; i++)
                x[i] = trial % 2 == 0 ? values[random.Next(values.Length)] : (float)Math.Round(4 * random.NextDouble() - 2, 1);
            Assert.Equal(E8PNearest.SearchReference(x), E8PClassSearch.Search(x));
        }
        float[][] extremes = [new float[8], [1e30f, 0, 0, 0, 0, 0, 0, 0], [3e38f, -3e38f, 3e38f, 1, 2, 3, 4, 5], [1e-40f, 0, 0, 0, 0, 0, 0, 1e-40f]];
        foreach (var x in extremes) Assert.Equal(E8PNearest.SearchReference(x), E8PClassSearch.Search(x));
    }

    [IsaFact(Isa.Vector512)]
    public void Lane_path_certifies_and_picks_exactly_as_the_scalar_path()
    {
        var random = new Random(41);
        var lanes = new int[16];
        for (int batch = 0; batch < 1000; batch++)
        {
            float[] x = TestData.Gaussian(random, 16 * 8, batch % 3 == 0 ? 0.5f : 1.5f);
            if (batch % 5 == 0) x[batch % 128] = 0.25f;
            if (batch % 7 == 0) x[(batch * 3) % 128] = x[(batch * 3 + 1) % 128];
            E8PClassSearch.TrySearchLanes(x, lanes);
            for (int v = 0; v < 16; v++)
            {
                bool certified = E8PClassSearch.TrySearch(x.AsSpan(8 * v, 8), out int candidate);
                Assert.Equal(certified ? candidate : -1, lanes[v]);
            }
        }
    }

    [Fact]
    public void Search_many_equals_the_reference_at_every_count()
    {
        var random = new Random(8);
        foreach (int count in new[] { 1, 15, 16, 17, 33, 64, 512 })
        {
            float[] x = TestData.Gaussian(random, 8 * count, 1.03f);
            var candidates = new int[count];
            E8PClassSearch.SearchMany(x, candidates);
            for (int v = 0; v < count; v++) Assert.Equal(E8PNearest.SearchReference(x.AsSpan(8 * v, 8)), candidates[v]);
        }
    }
}
