using Caldera.Runtime.Inference;

namespace Caldera.Runtime.Training.Arithmetic;

/// <summary>
/// The three products of a linear layer's training step over a window of T tokens, on a <see cref="WorkerPool"/>.
/// Each splits its output so that no two items write the same element, and each element is summed in an order fixed by
/// the matrix alone (<see cref="FixedOrder"/>), so the results do not depend on the thread count:
///   <see cref="Multiply"/>            Y[t,i] = Σ_j M[i,j]·U[t,j]        items: rows of M
///   <see cref="MultiplyTransposed"/>  X[t,j] += Σ_i M[i,j]·D[t,i]       items: fixed column chunks of M (coded Q decoded per chunk)
///   <see cref="AddOuter"/>            G[i,:] += Σ_t A[t,i]·B[t,:]       items: rows of G
/// All arrays are row-major with one row per token.
/// </summary>
internal sealed class RowProducts(WorkerPool pool)
{
    /// <summary>Columns per item of <see cref="MultiplyTransposed"/>: T×64 floats of X stay in cache while every row of M passes.</summary>
    public const int ColumnChunk = 64;

    public WorkerPool Pool => pool;

    /// <summary>Y[t,i] = Σ_j M[i,j]·U[t,j] (or += when <paramref name="accumulate"/>)   U: T × n; Y: T × m.</summary>
    public void Multiply(RowMatrix m, float[] u, float[] y, int tokens, bool accumulate = false)
    {
        int rows = m.Rows, n = m.Columns;
        ParallelLoop.For(pool, rows, (long)n * tokens, (i, worker) =>
        {
            var row = m.Row(i, pool.Scratch(worker, n));
            int t = 0;
            for (; t + 4 <= tokens; t += 4)
            {
                var (d0, d1, d2, d3) = FixedOrder.Dot4(row, u.AsSpan(t * n, n), u.AsSpan((t + 1) * n, n), u.AsSpan((t + 2) * n, n), u.AsSpan((t + 3) * n, n));
                Store(t, d0);
                Store(t + 1, d1);
                Store(t + 2, d2);
                Store(t + 3, d3);
            }
            for (; t < tokens; t++) Store(t, FixedOrder.Dot(row, u.AsSpan(t * n, n)));

            void Store(int token, float d) => y[token * rows + i] = accumulate ? y[token * rows + i] + d : d;
        });
    }

    /// <summary>X[t,j] += Σ_i M[i,j]·D[t,i]   D: T × m; X: T × n. Rows are taken in order 0..m−1 for every element.</summary>
    public void MultiplyTransposed(RowMatrix m, float[] d, float[] x, int tokens)
    {
        int rows = m.Rows, n = m.Columns, chunks = (n + ColumnChunk - 1) / ColumnChunk;
        ParallelLoop.For(pool, chunks, (long)rows * ColumnChunk * tokens, (chunk, worker) =>
        {
            int start = chunk * ColumnChunk, length = Math.Min(ColumnChunk, n - start);
            var scratch = pool.Scratch(worker, length);
            for (int i = 0; i < rows; i++)
            {
                var segment = m.Segment(i, start, length, scratch);
                for (int t = 0; t < tokens; t++)
                {
                    float s = d[t * rows + i];
                    if (s != 0) FixedOrder.AddScaled(x.AsSpan(t * n + start, length), s, segment);
                }
            }
        });
    }

    /// <summary>G[i,:] += Σ_t A[t,i]·B[t,:]   G: m × n; A: T × m; B: T × n. Tokens are taken in order for every element.</summary>
    public void AddOuter(float[] g, int rows, int columns, float[] a, float[] b, int tokens)
    {
        ParallelLoop.For(pool, rows, (long)columns * tokens, (i, _) =>
        {
            var gi = g.AsSpan(i * columns, columns);
            for (int t = 0; t < tokens; t++)
            {
                float s = a[t * rows + i];
                if (s != 0) FixedOrder.AddScaled(gi, s, b.AsSpan(t * columns, columns));
            }
        });
    }
}
