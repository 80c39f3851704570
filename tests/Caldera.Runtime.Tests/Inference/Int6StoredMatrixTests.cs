using Caldera.Runtime.Inference;
using Caldera.Runtime.Kernels;
using Caldera.Runtime.Model;
using Caldera.Runtime.Tests.Kernels;

namespace Caldera.Runtime.Tests.Inference;

/// <summary>Matrices stored as <see cref="TensorType.Int6Blocks"/>: the embedding rows they decode and the classifier read in place.</summary>
public unsafe class Int6StoredMatrixTests
{
    /// <summary>Float rounding of a dot product over n terms of the decoded row (as <see cref="Int6BlockRowsTests"/>: a few ε per term).</summary>
    private const double RoundingPerTerm = 1.2e-7 * 4;

    public static TheoryData<int, int> RealShapes => Int6BlockRowsTests.RealShapes;

    [Fact]
    public void A_decoded_row_is_within_half_a_level_of_its_source_and_dotted_with_the_input_is_what_every_kernel_path_computes()
    {
        foreach (int n in KernelData.Lengths)
        {
            var row = KernelData.Floats(n, seed: n, scale: 0.1f);
            int blocks = Int6Blocks.BlockCount(n);
            var planes = new byte[Int6Blocks.RowBytes(n)];
            var scales = new ushort[blocks];
            Int6Blocks.QuantizeRow(row, planes, scales);
            var decoded = new float[n];
            Int6Blocks.DecodeRow(planes, scales, decoded);
            for (int i = 0; i < n; i++)
                Assert.True(Math.Abs(decoded[i] - row[i]) <= Int6Blocks.Scale(scales[i / Int6Blocks.BlockLength]) / 2 * (1 + 1e-6), $"n={n} i={i}: {decoded[i]} vs {row[i]}");

            // The decoded row is the row the classifier kernel multiplies: its dot with the dequantised input matches every path.
            var x = KernelData.Floats(n, seed: n + 1);
            var levels = new sbyte[Int6Blocks.PaddedLength(n)];
            var levelScales = new float[blocks];
            var offsets = new int[blocks];
            Int6Blocks.QuantizeInput(x, levels, levelScales, offsets);
            double dot = 0, abs = 0;
            for (int i = 0; i < n; i++)
            {
                int p = i / Int6Blocks.GroupLength * Int6Blocks.GroupLength + Int6Blocks.GroupPosition(i % Int6Blocks.GroupLength);
                double term = (double)decoded[i] * levelScales[i / Int6Blocks.BlockLength] * levels[p];
                dot += term;
                abs += Math.Abs(term);
            }
            foreach (var path in KernelData.Int8VectorPaths.Prepend(Int8CodedRows.Path.Scalar))
            {
                var y = new float[1];
                Int6BlockRows.DotRows(planes, scales, levels, levelScales, offsets, y, path);
                Assert.True(Math.Abs(y[0] - dot) <= RoundingPerTerm * (blocks + 1) * abs + 1e-30, $"n={n} {path}: {y[0]} vs {dot}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(RealShapes))]
    public void A_stored_matrix_is_read_in_place_and_computes_bit_for_bit_what_the_copy_made_at_load_computes(int rows, int columns)
    {
        var (source, _) = KernelData.Weights(rows * columns, TensorType.F16, seed: rows);
        var stored = GC.AllocateArray<byte>((int)TensorType.Int6Blocks.ByteLength([rows, columns]), pinned: true);
        using var pool = new WorkerPool(2);
        fixed (byte* s = source)
        fixed (byte* p = stored)
        {
            var f16 = new TensorView("w", [rows, columns], TensorType.F16, s);
            Int6Blocks.QuantizeMatrix(f16, stored);
            var view = new TensorView("w", [rows, columns], TensorType.Int6Blocks, p);
            var inPlace = new Int6DenseLinear(view, pool);
            var copy = new Int6DenseLinear(f16, pool);

            fixed (byte* planes = inPlace.RowPlanes(0)) Assert.True(planes == p, "the stored planes are not read in place");
            fixed (ushort* scales = inPlace.RowScales(0)) Assert.True((byte*)scales == p + Int6Blocks.MatrixPlaneBytes(rows, columns), "the stored scales are not read in place");

            const int tokens = 3;
            var x = KernelData.Floats(tokens * columns, seed: columns);
            var expected = new float[tokens * rows];
            var y = new float[tokens * rows];
            copy.ApplyBatch(x, expected, tokens);
            inPlace.ApplyBatch(x, y, tokens);
            Assert.Equal(expected, y);

            // Each row the view decodes is the row the kernel used.
            var decoded = new float[columns];
            var planesRow = new byte[Int6Blocks.RowBytes(columns)];
            var scalesRow = new ushort[Int6Blocks.BlockCount(columns)];
            foreach (int r in new[] { 0, rows / 2, rows - 1 })
            {
                view.ReadRow(r, decoded);
                Assert.True(copy.RowPlanes(r).SequenceEqual(inPlace.RowPlanes(r)) && copy.RowScales(r).SequenceEqual(inPlace.RowScales(r)), $"row {r}");
                var reference = new float[columns];
                f16.ReadRow(r, reference);
                Int6Blocks.QuantizeRow(reference, planesRow, scalesRow);
                var expectedRow = new float[columns];
                Int6Blocks.DecodeRow(planesRow, scalesRow, expectedRow);
                Assert.Equal(expectedRow, decoded);
            }
        }
    }
}
