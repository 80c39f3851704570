using System.Numerics.Tensors;

namespace Caldera.Compiler.LinearAlgebra;

/// <summary>
/// Thin SVD of an m×n matrix, r = min(m, n): Householder QR A = Q·R reduces the work to the r×r factor R, then
/// one-sided Jacobi rotates pairs of R's columns (G = Rᵀ's rows) until every pair is orthogonal: R·V = U_R·Σ,
/// A = (Q·U_R)·Σ·Vᵀ. Jacobi is accurate for small singular values too (relative accuracy, no Gram matrix).
/// Costs O(m·r²) + O(r³) per sweep: meant for r up to a few thousand; use <see cref="RandomizedSvd"/> for
/// a few leading triplets of a large matrix.
/// </summary>
internal static class ThinSvd
{
    // Sweeps converge quadratically once the columns are nearly orthogonal; 60 is never reached for finite data.
    private const int MaxSweeps = 60;

    /// <summary>After <see cref="MaxSweeps"/>, columns this close to orthogonal are accepted (≈ √ε: V and U are then orthonormal to 1e-8).</summary>
    private const double AcceptableCosine = 1e-8;

    // A pair counts as orthogonal when |g_iᵀg_j| ≤ ε·‖g_i‖·‖g_j‖: rotating further cannot change it in double.
    private const double OrthogonalityTolerance = 2.220446049250313e-16;

    public static SingularValueDecomposition Decompose(Matrix<double> a, int threads = 1)
    {
        ArgumentNullException.ThrowIfNull(a);
        Parallelism.ThrowIfInvalid(threads);
        foreach (double x in a.Data)
        {
            if (!double.IsFinite(x))
            {
                throw new ArgumentException($"SVD input has a non-finite entry ({x}).", nameof(a));
            }
        }

        if (a.Rows < a.Cols)
        {
            SingularValueDecomposition t = Decompose(a.Transpose(), threads);
            return new SingularValueDecomposition(t.V, t.S, t.U);
        }

        (Matrix<double> q, Matrix<double> r) = HouseholderQr.Decompose(a, threads);
        (Matrix<double> uR, double[] s, Matrix<double> v) = JacobiSquare(r);
        return new SingularValueDecomposition(Gemm.Multiply(q, uR, threads), s, v);
    }

    // One-sided Jacobi on a square R: returns U_R (orthonormal, completed where σ = 0), σ descending, and V.
    private static (Matrix<double> U, double[] S, Matrix<double> V) JacobiSquare(Matrix<double> r)
    {
        int n = r.Rows;
        Matrix<double> g = r.Transpose();           // row i = column i of R·V
        Matrix<double> vt = Matrix<double>.Identity(n); // row i = column i of V
        var norms = new double[n];
        for (int sweep = 0; ; sweep++)
        {
            // Squared norms are updated in closed form by each rotation and refreshed once a sweep against drift.
            for (int i = 0; i < n; i++)
            {
                norms[i] = TensorPrimitives.Dot(g.Row(i), g.Row(i));
            }

            // A column whose norm is at rounding level of the largest is numerically zero (a rank-deficient input):
            // its direction is noise, and rotating against it can cycle forever, so it is left alone.
            double negligible = n == 0 ? 0 : TensorPrimitives.Max(norms) * Math.Pow(n * OrthogonalityTolerance, 2);
            bool rotated = false;
            for (int i = 0; i < n - 1; i++)
            {
                for (int j = i + 1; j < n; j++)
                {
                    if (norms[i] <= negligible || norms[j] <= negligible)
                    {
                        continue;
                    }

                    rotated |= OrthogonalizePair(g, vt, norms, i, j);
                }
            }

            if (!rotated)
            {
                break;
            }

            if (sweep == MaxSweeps)
            {
                // Rotations can keep firing on rounding noise between nearly equal singular values without moving
                // anything that matters; accept the factor once every pair is orthogonal to working accuracy.
                double worst = WorstCosine(g, norms, negligible);
                if (worst > AcceptableCosine)
                {
                    throw new ArithmeticException($"thin SVD: one-sided Jacobi did not converge in {MaxSweeps} sweeps on a {n}×{n} factor (worst column cosine {worst:E2}).");
                }

                break;
            }
        }

        var s = new double[n];
        for (int i = 0; i < n; i++)
        {
            s[i] = TensorPrimitives.Norm(g.Row(i));
        }

        int[] order = SymmetricEigen.SortedOrder(s);
        Array.Reverse(order);
        var u = new Matrix<double>(n, n);
        var v = new Matrix<double>(n, n);
        var sorted = new double[n];
        double tiny = s.Length == 0 ? 0 : s[order[0]] * n * OrthogonalityTolerance;
        for (int c = 0; c < n; c++)
        {
            int src = order[c];
            sorted[c] = s[src];
            for (int i = 0; i < n; i++)
            {
                v.Data[(i * n) + c] = vt.Data[(src * n) + i];
                u.Data[(i * n) + c] = s[src] > tiny ? g.Data[(src * n) + i] / s[src] : 0;
            }
        }

        CompleteOrthonormalColumns(u, sorted, tiny);
        return (u, sorted, v);
    }

    // The largest |cos| between two non-negligible columns of R·V (rows of G).
    private static double WorstCosine(Matrix<double> g, double[] norms, double negligible)
    {
        double worst = 0;
        for (int i = 0; i < g.Rows - 1; i++)
        {
            for (int j = i + 1; j < g.Rows; j++)
            {
                if (norms[i] > negligible && norms[j] > negligible)
                {
                    worst = Math.Max(worst, Math.Abs(TensorPrimitives.Dot(g.Row(i), g.Row(j))) / Math.Sqrt(norms[i] * norms[j]));
                }
            }
        }

        return worst;
    }

    // Rotates columns i and j of R·V (rows of G) so that they become orthogonal; returns whether it rotated.
    // With α = ‖g_i‖², β = ‖g_j‖², γ = g_iᵀg_j, ζ = (β − α)/(2γ), t = sign(ζ)/(|ζ| + √(1 + ζ²)) is the smaller
    // root of t² + 2ζt − 1 = 0, and c = 1/√(1 + t²), s = c·t zero the new inner product.
    private static bool OrthogonalizePair(Matrix<double> g, Matrix<double> vt, double[] norms, int i, int j)
    {
        Span<double> gi = g.Row(i);
        Span<double> gj = g.Row(j);
        double alpha = norms[i];
        double beta = norms[j];
        double gamma = TensorPrimitives.Dot(gi, gj);
        // The rounding error of the length-n dot product γ itself is up to n·ε·‖g_i‖·‖g_j‖; demanding less made
        // sweeps cycle on rounding noise (seen on a 64×64 CALDERA low-rank init of stories260K's blk.0.attn_output).
        if (Math.Abs(gamma) <= OrthogonalityTolerance * gi.Length * Math.Sqrt(alpha * beta) || gamma == 0)
        {
            return false;
        }

        double zeta = (beta - alpha) / (2 * gamma);
        double t = (zeta >= 0 ? 1 : -1) / (Math.Abs(zeta) + Math.Sqrt(1 + (zeta * zeta)));
        double c = 1 / Math.Sqrt(1 + (t * t));
        double s = c * t;
        PlaneRotation.Apply(gi, gj, c, s);
        PlaneRotation.Apply(vt.Row(i), vt.Row(j), c, s);
        norms[i] = alpha - (t * gamma);
        norms[j] = beta + (t * gamma);
        return true;
    }

    // Columns with σ ≤ tiny carry no direction of A; give them unit vectors orthogonal to the rest (Gram–Schmidt,
    // twice, on e_1, e_2, …) so U always has orthonormal columns. Some e_i keeps a residual ≥ 1/√n, so taking
    // the first residual above ½, else the largest, always succeeds.
    private static void CompleteOrthonormalColumns(Matrix<double> u, double[] s, double tiny)
    {
        int n = u.Rows;
        var col = new double[n];
        var best = new double[n];
        for (int c = 0; c < u.Cols; c++)
        {
            if (s[c] > tiny)
            {
                continue;
            }

            double bestNorm = -1;
            for (int candidate = 0; candidate < n && bestNorm <= 0.5; candidate++)
            {
                Array.Clear(col);
                col[candidate] = 1;
                for (int pass = 0; pass < 2; pass++)
                {
                    for (int k = 0; k < u.Cols; k++)
                    {
                        if (k == c)
                        {
                            continue;
                        }

                        double dot = 0;
                        for (int i = 0; i < n; i++)
                        {
                            dot += u.Data[(i * u.Cols) + k] * col[i];
                        }

                        for (int i = 0; i < n; i++)
                        {
                            col[i] -= dot * u.Data[(i * u.Cols) + k];
                        }
                    }
                }

                double norm = TensorPrimitives.Norm(col);
                if (norm > bestNorm)
                {
                    bestNorm = norm;
                    col.CopyTo(best, 0);
                }
            }

            for (int i = 0; i < n; i++)
            {
                u.Data[(i * u.Cols) + c] = best[i] / bestNorm;
            }
        }
    }
}
