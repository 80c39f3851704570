using Caldera.Runtime.Compression;

namespace Caldera.Cli.Report;

/// <summary>
/// A matrix's stored bits per weight split the way the report shows them: Q's codes, L's and R's codes or halves,
/// and the rest (the signs of the random Hadamard transforms, any fallback block, four fp32 scales). The parts sum
/// to <see cref="CompressedLinearData.BitsPerWeight"/>.
/// </summary>
internal readonly record struct MatrixBits(double Q, double L, double R, double Rest)
{
    public double Total => Q + L + R + Rest;

    public static MatrixBits Of(CompressedLinearData m)
    {
        double weights = (double)m.Rows * m.Columns;
        double q = m.QKind == QCodeKind.Uniform ? (double)m.QBits * m.Rows * m.Columns : 16.0 * m.QCodes.Length;
        double l = 16.0 * (m.LTransposedCodes.Length + m.L.Length);
        double r = 16.0 * (m.RCodes.Length + m.R.Length);
        double rest = m.StoredBits - q - l - r;
        return new MatrixBits(q / weights, l / weights, r / weights, rest / weights);
    }

    /// <summary>The weight-averaged split over <paramref name="matrices"/>.</summary>
    public static MatrixBits Mean(IEnumerable<CompressedLinearData> matrices)
    {
        double weights = 0, q = 0, l = 0, r = 0, rest = 0;
        foreach (var m in matrices)
        {
            double n = (double)m.Rows * m.Columns;
            var b = Of(m);
            (weights, q, l, r, rest) = (weights + n, q + b.Q * n, l + b.L * n, r + b.R * n, rest + b.Rest * n);
        }
        return new MatrixBits(q / weights, l / weights, r / weights, rest / weights);
    }
}
