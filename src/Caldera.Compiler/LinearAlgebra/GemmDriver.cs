using System.Numerics;
using System.Numerics.Tensors;

namespace Caldera.Compiler.LinearAlgebra;

/// <summary>
/// The packed, blocked GEMM loop nest (Goto/BLIS structure) behind <see cref="Gemm"/>:
/// <code>
/// for jc in n step NC:            B panel  op(B)[pc:pc+KC, jc:jc+NC] packed into NR-wide strips  (L3)
///   for pc in k step KC:          A        op(A)[:, pc:pc+KC] packed into MR-tall strips          (L2 per MC block)
///     for tile (MC rows × chunk of NR strips), in parallel:
///       for jr: for ir: register tile MR×NR over KC                                  (B strip in L1)
/// </code>
/// Every C element is owned by one tile and accumulates the k blocks in the same order whatever the thread
/// count, so results are bitwise independent of <c>threads</c>.
/// </summary>
internal sealed unsafe class GemmDriver<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    // KC·NR·sizeof(T): one packed B strip, reread by every register tile of a column, should sit in L1 (32–48 KiB)
    // beside an A strip. MC·KC·sizeof(T): one packed A block, reread for every B strip, should sit in L2.
    private const int L1StripBytes = 24 * 1024;
    private const int L2BlockBytes = 384 * 1024;
    private const int PanelCols = 4096;

    private readonly GemmKernelKind kind;
    private readonly int mr, nr, kcMax, mcMax;
    private readonly Op opA, opB;
    private readonly int m, n, k, lda, ldb, ldc, threads;
    private readonly T alpha;
    private readonly T* a, b, c;
    private T* packA, packB;

    /// <summary>op(B) packed ahead by <see cref="Pack"/>: every (jc, pc) panel in loop order, or null to pack per call.</summary>
    private T* prepackedB;

    private GemmDriver(
        GemmKernelKind kind, Op opA, Op opB, int m, int n, int k, T alpha, T* a, int lda, T* b, int ldb, T* c, int ldc, int threads)
    {
        this.kind = kind;
        mr = GemmKernelKinds.RowsPerTile<T>(kind);
        nr = GemmKernelKinds.ColsPerTile<T>(kind);
        kcMax = DepthBlock(kind);
        mcMax = Math.Max(mr, L2BlockBytes / (kcMax * sizeof(T)) / mr * mr);
        (this.opA, this.opB, this.m, this.n, this.k, this.alpha) = (opA, opB, m, n, k, alpha);
        (this.lda, this.ldb, this.ldc, this.threads) = (lda, ldb, ldc, threads);
        this.a = a;
        this.b = b;
        this.c = c;
    }

    /// <summary>
    /// KC, the depth of one packed block: each C element sums its k terms from zero in blocks of KC with FMAs in
    /// k order and adds each block's sum to C once. Kernels that must round exactly like GEMM use the same value.
    /// </summary>
    internal static int DepthBlock(GemmKernelKind kind) =>
        Math.Clamp(L1StripBytes / (GemmKernelKinds.ColsPerTile<T>(kind) * sizeof(T)) / 8 * 8, 64, 512);

    /// <summary>C = α·op(A)·op(B) + β·C on validated pointers (see <see cref="Gemm.Multiply{T}"/>).</summary>
    public static void Run(
        GemmKernelKind kind, Op opA, Op opB, int m, int n, int k,
        T alpha, T* a, int lda, T* b, int ldb, T beta, T* c, int ldc, int threads)
    {
        var driver = new GemmDriver<T>(kind, opA, opB, m, n, k, alpha, a, lda, b, ldb, c, ldc, threads);
        driver.ScaleC(beta);
        if (m == 0 || n == 0 || k == 0 || alpha == T.Zero)
        {
            return;
        }

        driver.Multiply();
    }

    /// <summary>
    /// C = α·op(A)·B + β·C with B (k×n) already packed by <see cref="Pack"/> at <paramref name="packedB"/>: the same
    /// loop nest reading the same packed strips, so the result is bitwise that of <see cref="Run"/>.
    /// </summary>
    public static void RunPacked(
        GemmKernelKind kind, Op opA, int m, int n, int k, T alpha, T* a, int lda, T* packedB, T beta, T* c, int ldc, int threads)
    {
        var driver = new GemmDriver<T>(kind, opA, Op.N, m, n, k, alpha, a, lda, null, 0, c, ldc, threads) { prepackedB = packedB };
        driver.ScaleC(beta);
        if (m == 0 || n == 0 || k == 0 || alpha == T.Zero)
        {
            return;
        }

        driver.Multiply();
    }

    // β = 0 overwrites C (BLAS semantics: NaN in C must not survive), β = 1 leaves it alone.
    private void ScaleC(T beta)
    {
        if (beta == T.One || m == 0 || n == 0)
        {
            return;
        }

        int parts = Math.Min(threads, m);
        Parallelism.For(parts, threads, part =>
        {
            (int start, int end) = Parallelism.Range(part, parts, m);
            for (int i = start; i < end; i++)
            {
                var row = new Span<T>(c + ((nint)i * ldc), n);
                if (beta == T.Zero)
                {
                    row.Clear();
                }
                else
                {
                    TensorPrimitives.Multiply(row, beta, row);
                }
            }
        });
    }

    /// <summary>Elements of op(B) (k×n) packed as <see cref="Pack"/> lays it out: every column padded to whole NR strips.</summary>
    public static long PackedLength(GemmKernelKind kind, int k, int n)
    {
        int nr = GemmKernelKinds.ColsPerTile<T>(kind);
        return (long)k * ((n + nr - 1) / nr) * nr;
    }

    /// <summary>
    /// Packs op(B) (k×n) into <paramref name="destination"/> (<see cref="PackedLength"/> elements): panel (jc, pc)
    /// at <see cref="PanelOffset"/>, each laid out as the per-call packing of <see cref="Run"/> lays it out.
    /// </summary>
    public static void Pack(GemmKernelKind kind, Op opB, int k, int n, T* b, int ldb, T* destination, int threads)
    {
        var driver = new GemmDriver<T>(kind, Op.N, opB, 0, n, k, T.One, null, 0, b, ldb, null, 0, threads);
        for (int jc = 0; jc < n; jc += PanelCols)
        {
            int nc = Math.Min(PanelCols, n - jc);
            for (int pc = 0; pc < k; pc += driver.kcMax)
            {
                driver.packB = destination + driver.PanelOffset(jc, pc, nc);
                driver.PackPanels(pc, Math.Min(driver.kcMax, k - pc), jc, nc, includeB: true);
            }
        }
    }

    /// <summary>
    /// Row <paramref name="row"/> of op(B) (k×n), n elements, read back from its layout by <see cref="Pack"/> at
    /// <paramref name="packed"/>: within each panel, the row's NR elements of every strip lie together.
    /// </summary>
    public static void UnpackRow(GemmKernelKind kind, int k, int n, T* packed, int row, Span<T> destination)
    {
        int nr = GemmKernelKinds.ColsPerTile<T>(kind), kcMax = DepthBlock(kind);
        int pc = row / kcMax * kcMax, kc = Math.Min(kcMax, k - pc);
        for (int jc = 0; jc < n; jc += PanelCols)
        {
            int nc = Math.Min(PanelCols, n - jc);
            T* panel = packed + ((long)jc * k) + ((long)((nc + nr - 1) / nr) * nr * pc) + ((nint)(row - pc) * nr);
            for (int col0 = jc; col0 < jc + nc; col0 += nr)
            {
                int cols = Math.Min(nr, jc + nc - col0);
                new ReadOnlySpan<T>(panel + ((nint)(col0 - jc) * kc), cols).CopyTo(destination.Slice(col0, cols));
            }
        }
    }

    /// <summary>Where <see cref="Pack"/> put element (<paramref name="row"/>, <paramref name="col"/>) of op(B) (k×n).</summary>
    public static long PackedOffset(GemmKernelKind kind, int k, int n, int row, int col)
    {
        int nr = GemmKernelKinds.ColsPerTile<T>(kind), kcMax = DepthBlock(kind);
        int pc = row / kcMax * kcMax, kc = Math.Min(kcMax, k - pc);
        int jc = col / PanelCols * PanelCols, nc = Math.Min(PanelCols, n - jc), strip = (col - jc) / nr;
        return ((long)jc * k) + ((long)((nc + nr - 1) / nr) * nr * pc) + ((long)strip * nr * kc) + ((long)(row - pc) * nr) + (col - jc - (strip * nr));
    }

    // Panels before (jc, pc): all k rows of the jc / NR full strips to the left, and pc rows of this panel's strips.
    private long PanelOffset(int jc, int pc, int nc) => ((long)jc * k) + ((long)((nc + nr - 1) / nr) * nr * pc);

    private void Multiply()
    {
        int stripsA = (m + mr - 1) / mr;
        int ncMax = Math.Min(n, PanelCols);
        int stripsB = (ncMax + nr - 1) / nr;
        long bytesA = (long)stripsA * mr * kcMax * sizeof(T);
        long bytesB = prepackedB is null ? (long)stripsB * nr * kcMax * sizeof(T) : 0;
        using GemmWorkspace workspace = GemmWorkspace.Rent(bytesA + bytesB);
        packA = (T*)workspace.Pointer;
        packB = (T*)((byte*)workspace.Pointer + bytesA);
        for (int jc = 0; jc < n; jc += PanelCols)
        {
            int nc = Math.Min(PanelCols, n - jc);
            for (int pc = 0; pc < k; pc += kcMax)
            {
                int kc = Math.Min(kcMax, k - pc);
                if (prepackedB is not null)
                {
                    packB = prepackedB + PanelOffset(jc, pc, nc);
                }

                PackPanels(pc, kc, jc, nc, includeB: prepackedB is null);
                MultiplyPanels(kc, jc, nc);
            }
        }
    }

    private void PackPanels(int pc, int kc, int jc, int nc, bool includeB)
    {
        int stripsA = (m + mr - 1) / mr;
        int stripsB = includeB ? (nc + nr - 1) / nr : 0;
        int parts = Math.Min(threads * 4, stripsA + stripsB);
        Parallelism.For(parts, threads, part =>
        {
            (int start, int end) = Parallelism.Range(part, parts, stripsA + stripsB);
            for (int s = start; s < end; s++)
            {
                if (s < stripsA)
                {
                    PackStripA(s, pc, kc);
                }
                else
                {
                    PackStripB(s - stripsA, pc, kc, jc, nc);
                }
            }
        });
    }

    // packA[s·MR·kc + p·MR + i] = op(A)[s·MR + i, pc + p], rows past m zero-filled.
    private void PackStripA(int strip, int pc, int kc)
    {
        T* dst = packA + ((nint)strip * mr * kc);
        int row0 = strip * mr;
        int rows = Math.Min(mr, m - row0);
        if (opA == Op.N)
        {
            for (int i = 0; i < rows; i++)
            {
                T* src = a + ((nint)(row0 + i) * lda) + pc;
                for (int p = 0; p < kc; p++)
                {
                    dst[(p * mr) + i] = src[p];
                }
            }
        }
        else
        {
            for (int p = 0; p < kc; p++)
            {
                new ReadOnlySpan<T>(a + ((nint)(pc + p) * lda) + row0, rows).CopyTo(new Span<T>(dst + (p * mr), rows));
            }
        }

        for (int i = rows; i < mr; i++)
        {
            for (int p = 0; p < kc; p++)
            {
                dst[(p * mr) + i] = T.Zero;
            }
        }
    }

    // packB[s·NR·kc + p·NR + j] = op(B)[pc + p, jc + s·NR + j], columns past n zero-filled.
    private void PackStripB(int strip, int pc, int kc, int jc, int nc)
    {
        T* dst = packB + ((nint)strip * nr * kc);
        int col0 = jc + (strip * nr);
        int cols = Math.Min(nr, jc + nc - col0);
        if (opB == Op.N)
        {
            for (int p = 0; p < kc; p++)
            {
                var row = new Span<T>(dst + (p * nr), nr);
                new ReadOnlySpan<T>(b + ((nint)(pc + p) * ldb) + col0, cols).CopyTo(row);
                row[cols..].Clear();
            }
        }
        else
        {
            for (int j = 0; j < nr; j++)
            {
                T* src = b + ((nint)(col0 + j) * ldb) + pc;
                for (int p = 0; p < kc; p++)
                {
                    dst[(p * nr) + j] = j < cols ? src[p] : T.Zero;
                }
            }
        }
    }

    private void MultiplyPanels(int kc, int jc, int nc)
    {
        int rowBlocks = (m + mcMax - 1) / mcMax;
        int strips = (nc + nr - 1) / nr;
        int colChunks = threads == 1 ? 1 : Math.Clamp((4 * threads) / rowBlocks, 1, strips);
        Parallelism.For(rowBlocks * colChunks, threads, tile =>
        {
            int rowBlock = tile / colChunks;
            (int stripStart, int stripEnd) = Parallelism.Range(tile % colChunks, colChunks, strips);
            MultiplyTile(kc, jc, nc, rowBlock * mcMax, Math.Min(mcMax, m - (rowBlock * mcMax)), stripStart, stripEnd);
        });
    }

    private void MultiplyTile(int kc, int jc, int nc, int row0, int rows, int stripStart, int stripEnd)
    {
        T* edge = stackalloc T[mr * nr];
        for (int s = stripStart; s < stripEnd; s++)
        {
            T* pb = packB + ((nint)s * nr * kc);
            int col = jc + (s * nr);
            int cols = Math.Min(nr, jc + nc - col);
            for (int i = 0; i < rows; i += mr)
            {
                T* pa = packA + ((nint)((row0 + i) / mr) * mr * kc);
                T* ct = c + ((nint)(row0 + i) * ldc) + col;
                int tileRows = Math.Min(mr, rows - i);
                if (tileRows == mr && cols == nr)
                {
                    RunKernel(kc, pa, pb, ct, ldc);
                    continue;
                }

                // A partial tile runs the same kernel on a padded copy, so its arithmetic matches a full tile's.
                for (int r = 0; r < mr; r++)
                {
                    var dst = new Span<T>(edge + (r * nr), nr);
                    dst.Clear();
                    if (r < tileRows)
                    {
                        new ReadOnlySpan<T>(ct + ((nint)r * ldc), cols).CopyTo(dst);
                    }
                }

                RunKernel(kc, pa, pb, edge, nr);
                for (int r = 0; r < tileRows; r++)
                {
                    new ReadOnlySpan<T>(edge + (r * nr), cols).CopyTo(new Span<T>(ct + ((nint)r * ldc), cols));
                }
            }
        }
    }

    private void RunKernel(int kc, T* pa, T* pb, T* ct, nint ldct)
    {
        switch (kind)
        {
            case GemmKernelKind.Vector512:
                GemmKernel512<T>.Multiply(kc, pa, pb, ct, ldct, alpha);
                break;
            case GemmKernelKind.Vector256:
                GemmKernel256<T>.Multiply(kc, pa, pb, ct, ldct, alpha);
                break;
            default:
                GemmKernelScalar<T>.Multiply(kc, pa, pb, ct, ldct, alpha);
                break;
        }
    }
}
