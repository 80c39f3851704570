using Caldera.Runtime.Incoherence;

namespace Caldera.Runtime.Tests.Incoherence;

public class GaloisFieldTests
{
    [Theory]
    [InlineData(7)]
    [InlineData(9)]
    [InlineData(25)]
    [InlineData(27)]
    [InlineData(49)]
    [InlineData(343)]
    public void Prime_power_fields_have_inverses_distributivity_and_half_the_units_square(int q)
    {
        GaloisField field = GaloisField.TryCreate(q)!;
        Assert.Equal(q, field.Order);
        for (int a = 1; a < q; a++)
        {
            var products = new HashSet<int>();
            for (int b = 0; b < q; b++) products.Add(field.Multiply(a, b));
            Assert.True(products.Count == q, $"GF({q}): multiplication by {a} is not a bijection");
        }
        var random = new Random(q);
        for (int trial = 0; trial < 500; trial++)
        {
            int a = random.Next(q), b = random.Next(q), c = random.Next(q);
            Assert.Equal(field.Multiply(a, field.Add(b, c)), field.Add(field.Multiply(a, b), field.Multiply(a, c)));
            Assert.Equal(field.Multiply(field.Multiply(a, b), c), field.Multiply(a, field.Multiply(b, c)));
            Assert.Equal(a, field.Add(field.Subtract(a, b), b));
        }
        Assert.Equal((q - 1) / 2, Enumerable.Range(1, q - 1).Count(e => field.Character(e) == 1));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(6)]
    [InlineData(12)]
    [InlineData(171)]
    public void Non_prime_powers_have_no_field(int q) => Assert.Null(GaloisField.TryCreate(q));
}
