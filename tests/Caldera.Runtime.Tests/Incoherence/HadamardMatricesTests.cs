using Caldera.Runtime.Incoherence;

namespace Caldera.Runtime.Tests.Incoherence;

public class HadamardMatricesTests
{
    [Fact]
    public void Every_available_order_up_to_260_is_a_Hadamard_matrix()
    {
        int checkedOrders = 0;
        for (int order = 1; order <= 260; order++)
        {
            sbyte[]? h = HadamardMatrices.TryCreate(order);
            Assert.Equal(HadamardMatrices.IsAvailable(order), h is not null);
            if (h is null) continue;
            AssertHadamard(h, order);
            checkedOrders++;
        }
        Assert.True(checkedOrders > 50, $"only {checkedOrders} orders were available");
    }

    [Theory]
    [InlineData(12)] // Paley I, q = 11
    [InlineData(20)]
    [InlineData(28)] // Paley II, q = 13
    [InlineData(36)]
    [InlineData(44)]
    [InlineData(52)] // Paley II over GF(5²)
    [InlineData(60)]
    [InlineData(108)]
    [InlineData(124)]
    [InlineData(140)]
    [InlineData(144)] // 12 ⊗ 12
    [InlineData(344)] // Paley I over GF(7³): the block for 11008 = 344·32
    public void Block_sizes_of_Llama_dimensions_are_constructed(int order)
    {
        sbyte[]? h = HadamardMatrices.TryCreate(order);
        Assert.NotNull(h);
        AssertHadamard(h, order);
    }

    [Theory]
    [InlineData(6)]
    [InlineData(43)]
    [InlineData(172)] // needs a Williamson-type matrix: not built here, so 172 takes the fallback
    public void Orders_without_a_construction_are_reported_unavailable(int order)
    {
        Assert.False(HadamardMatrices.IsAvailable(order));
        Assert.Null(HadamardMatrices.TryCreate(order));
    }

    private static void AssertHadamard(sbyte[] h, int order)
    {
        Assert.Equal(order * order, h.Length);
        Assert.All(h, v => Assert.True(v is 1 or -1));
        for (int i = 0; i < order; i++)
            for (int j = i; j < order; j++)
            {
                int dot = 0;
                for (int k = 0; k < order; k++) dot += h[i * order + k] * h[j * order + k];
                Assert.True(dot == (i == j ? order : 0), $"order {order}: rows {i} and {j} have dot {dot}");
            }
    }
}
