namespace Caldera.Compiler.LinearAlgebra;

/// <summary>
/// Implicit QL iteration with Wilkinson-type shifts on a symmetric tridiagonal T = tridiag(e, d, e): each sweep
/// chases a bulge from the first negligible off-diagonal m up to l with Givens rotations, driving e[l] to 0.
/// The rotations are recorded and applied to the rows of Zᵀ (eigenvectors as rows) in batches of sweeps, one
/// narrow column strip at a time: a strip of all rows stays in L2 across the batch instead of streaming the
/// whole n×n matrix from memory once per sweep. Strips are split across threads.
/// </summary>
internal static class TridiagonalQl
{
    // Implicit QL converges cubically; 30 sweeps per eigenvalue is far beyond what finite input needs, so hitting
    // it means non-finite data rather than a slow case.
    private const int MaxSweepsPerEigenvalue = 30;

    // An off-diagonal below one ulp of its neighbouring diagonal entries cannot change them: treat it as zero.
    private const double MachineEpsilon = 2.220446049250313e-16;

    // 64 doubles × n rows: 2 MiB at n = 4096, about the L2 of one core; 32 sweeps reuse it 32 times.
    private const int StripWidth = 64;
    private const int SweepsPerBatch = 32;

    /// <summary>On return d holds the eigenvalues (unsorted) and row i of <paramref name="zTransposed"/> (if given)
    /// the eigenvector of d[i].</summary>
    public static void Diagonalize(double[] d, double[] e, Matrix<double>? zTransposed, int threads)
    {
        int n = d.Length;
        var batch = new List<RecordedSweep>(SweepsPerBatch);

        // Householder already perturbs eigenvalues by O(ε·‖A‖), so an off-diagonal below ε·‖T‖ is negligible even
        // where its neighbours are tiny (a singular Hessian's zero eigenvalues would otherwise never deflate).
        double norm = 0;
        for (int i = 0; i < n; i++)
        {
            norm = Math.Max(norm, Math.Abs(d[i]) + Math.Abs(e[i]));
        }

        for (int l = 0; l < n; l++)
        {
            for (int sweep = 0; ; sweep++)
            {
                int m = l;
                for (; m < n - 1; m++)
                {
                    double scale = Math.Abs(d[m]) + Math.Abs(d[m + 1]);
                    if (Math.Abs(e[m]) <= MachineEpsilon * scale || Math.Abs(e[m]) <= MachineEpsilon * norm)
                    {
                        break;
                    }
                }

                if (m == l)
                {
                    break;
                }

                if (sweep == MaxSweepsPerEigenvalue)
                {
                    throw new ArithmeticException(
                        $"symmetric eigendecomposition: QL iteration did not converge for eigenvalue {l} of {n}; the input has non-finite or extreme values.");
                }

                var sweepRecord = new RecordedSweep(m, new double[m - l], new double[m - l]);
                sweepRecord.Count = Sweep(d, e, l, m, sweepRecord.Cos, sweepRecord.Sin);
                if (zTransposed is not null)
                {
                    batch.Add(sweepRecord);
                    if (batch.Count == SweepsPerBatch)
                    {
                        ApplyRotations(zTransposed, batch, threads);
                        batch.Clear();
                    }
                }
            }
        }

        if (zTransposed is not null && batch.Count > 0)
        {
            ApplyRotations(zTransposed, batch, threads);
        }
    }

    // Rotation t of a sweep acts on rows i = M−1−t and i+1.
    private sealed record RecordedSweep(int M, double[] Cos, double[] Sin)
    {
        public int Count { get; set; }
    }

    // One implicit QL step on the unreduced block [l, m]; rotation t (t = 0..count−1) acts on rows i = m−1−t, i+1.
    private static int Sweep(double[] d, double[] e, int l, int m, double[] cos, double[] sin)
    {
        double g = (d[l + 1] - d[l]) / (2 * e[l]);
        double r = Hypot(g, 1);
        g = d[m] - d[l] + (e[l] / (g + (g >= 0 ? r : -r)));
        double s = 1, c = 1, p = 0;
        int count = 0;
        for (int i = m - 1; i >= l; i--)
        {
            double f = s * e[i];
            double b = c * e[i];
            r = Hypot(f, g);
            e[i + 1] = r;
            if (r == 0)
            {
                // Underflow split the block: deflate and let the caller restart on the smaller problem.
                d[i + 1] -= p;
                e[m] = 0;
                return count;
            }

            s = f / r;
            c = g / r;
            g = d[i + 1] - p;
            r = ((d[i] - g) * s) + (2 * c * b);
            p = s * r;
            d[i + 1] = g + p;
            g = (c * r) - b;
            cos[count] = c;
            sin[count] = s;
            count++;
        }

        d[l] -= p;
        e[l] = g;
        e[m] = 0;
        return count;
    }

    // Column rotation on Z (z_i' = c·z_i − s·z_{i+1}, z_{i+1}' = s·z_i + c·z_{i+1}) = row rotation on Zᵀ. Columns
    // are independent, so each strip replays every recorded rotation in the original order.
    private static void ApplyRotations(Matrix<double> zt, List<RecordedSweep> sweeps, int threads)
    {
        int n = zt.Cols;
        int strips = (n + StripWidth - 1) / StripWidth;
        int parts = Math.Min(threads, strips);
        Parallelism.For(parts, threads, part =>
        {
            (int firstStrip, int endStrip) = Parallelism.Range(part, parts, strips);
            for (int strip = firstStrip; strip < endStrip; strip++)
            {
                int c0 = strip * StripWidth;
                int width = Math.Min(StripWidth, n - c0);
                foreach (RecordedSweep sweep in sweeps)
                {
                    for (int t = 0; t < sweep.Count; t++)
                    {
                        int i = sweep.M - 1 - t;
                        PlaneRotation.Apply(
                            zt.Data.AsSpan((i * n) + c0, width), zt.Data.AsSpan(((i + 1) * n) + c0, width), sweep.Cos[t], sweep.Sin[t]);
                    }
                }
            }
        });
    }

    private static double Hypot(double a, double b)
    {
        double x = Math.Abs(a), y = Math.Abs(b);
        double big = Math.Max(x, y), small = Math.Min(x, y);
        if (big == 0)
        {
            return 0;
        }

        double ratio = small / big;
        return big * Math.Sqrt(1 + (ratio * ratio));
    }
}
