using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Caldera.Runtime.Kernels;
using Caldera.Runtime.Model;

namespace Caldera.Runtime.Compression;

/// <summary>
/// Whether a <see cref="CompressedModelContent"/> describes a runnable model: every tensor the architecture
/// needs is present exactly once with its shape (a matrix compressed or dense, the embedding and the norms
/// dense), nothing else is, and every array is consistent and finite. The writer, the reader and the runtime
/// binding all ask it, each raising its own error type.
/// </summary>
internal static class CompressedModelCheck
{
    /// <summary>The first problem as (tensor or setting, what is wrong), or null.</summary>
    public static (string Name, string Problem)? FindProblem(CompressedModelContent content)
    {
        var config = content.Config;
        var expected = TensorNames.Expected(config).ToDictionary(e => e.Name, e => e.Shape, StringComparer.Ordinal);
        var seen = new HashSet<string>(StringComparer.Ordinal);

        foreach (var m in content.Matrices)
        {
            if (!seen.Add(m.Name)) return (m.Name, "appears twice");
            if (!expected.TryGetValue(m.Name, out var shape)) return (m.Name, $"is not a tensor of this architecture ({config.LayerCount} layers, tied classifier: {config.TiedClassifier})");
            if (shape.Length != 2 || m.Name == TensorNames.TokenEmbedding)
                return (m.Name, "cannot be compressed (the embedding and the norms are dense tensors)");
            if (m.Rows != shape[0] || m.Columns != shape[1])
                return (m.Name, $"is {m.Rows}×{m.Columns} but the config implies {shape[0]}×{shape[1]}");
            if (m.FindProblem() is { } problem) return (m.Name, problem);
        }
        foreach (var d in content.DenseTensors)
        {
            if (!seen.Add(d.Name)) return (d.Name, "appears twice");
            if (!expected.TryGetValue(d.Name, out var shape)) return (d.Name, "is not a tensor of this architecture");
            if (!d.Shape.AsSpan().SequenceEqual(shape))
                return (d.Name, $"has shape [{string.Join(", ", d.Shape)}] but the config implies [{string.Join(", ", shape)}]");
            if (!Enum.IsDefined(d.Type)) return (d.Name, $"type {(int)d.Type} is unknown");
            if (d.Type is TensorType.Int6Blocks or TensorType.Int4Blocks && d.Name is not (TensorNames.TokenEmbedding or TensorNames.Output))
                return (d.Name, $"is stored as {d.Type}, which only the token embedding and the classifier may be");
            long bytes = d.Type.ByteLength(shape);
            if (d.Data.Length != bytes) return (d.Name, $"holds {d.Data.Length} bytes; [{string.Join(", ", shape)}] {d.Type} needs {bytes}");
            if (d.Type is TensorType.Int6Blocks or TensorType.Int4Blocks)
            {
                long levelBytes = d.Type == TensorType.Int6Blocks ? Int6Blocks.MatrixPlaneBytes((int)shape[0], (int)shape[1])
                    : Int4Blocks.MatrixPlaneBytes((int)shape[0], (int)shape[1]);
                if (FirstBadScale(d.Data.Span[(int)levelBytes..]) is { } block)
                    return (d.Name, $"scale {block} is negative, NaN or infinite; the weights are corrupt");
            }
            else if (FirstNonFinite(d.Data.Span, d.Type) is { } index) return (d.Name, $"element {index} is NaN or infinite; the weights are corrupt");
        }
        foreach (var name in expected.Keys)
            if (!seen.Contains(name)) return (name, "is missing (neither compressed nor dense)");

        if (content.Tokenizer is { } tokenizer)
        {
            if (!Enum.IsDefined(tokenizer.Kind)) return ("tokenizer", $"kind {(int)tokenizer.Kind} is unknown");
            if (tokenizer.Bytes.IsEmpty) return ("tokenizer", "the payload is empty");
        }
        var s = content.Settings;
        if (s.Method is null || s.Preset is null || s.Calibration is null) return ("compression", "method, preset and calibration must be set");
        if (content.SourceSha256 is null || content.ToolVersion is null) return ("source_sha256", "the source hash and the tool version must be set");
        return null;
    }

    public static long Count(long[] shape)
    {
        long count = 1;
        foreach (long d in shape) count *= d;
        return count;
    }

    /// <summary>
    /// Stored bits (shared transforms counted once) and weights of the per-block matrices (blk.N.*, compressed or dense), and the weight
    /// count of the whole model (every stored tensor; a tied classifier is the embedding, stored once), for <see cref="BitsPerWeight"/>.
    /// </summary>
    public static (long LinearBits, long LinearWeights, long TotalWeights) CountWeights(CompressedModelContent content)
    {
        long linearBits = 0, linearWeights = 0, total = 0;
        var transforms = new HashSet<string>(StringComparer.Ordinal);
        var instances = new HashSet<TransformData>(ReferenceEqualityComparer.Instance);
        foreach (var m in content.Matrices)
        {
            long weights = (long)m.Rows * m.Columns;
            total += weights;
            if (!TensorNames.IsBlockMatrix(m.Name)) continue;
            linearWeights += weights;
            linearBits += m.StoredBits;
            // A transform shared with an earlier matrix is stored once (see TransformData.ContentKey); a file's reader gives
            // the matrices that name the same sections one instance, whose key is made once.
            foreach (var t in new[] { m.InputTransform, m.OutputTransform })
                if (t != null && (!instances.Add(t) || !transforms.Add(t.ContentKey()))) linearBits -= t.StoredBits;
        }
        foreach (var d in content.DenseTensors)
        {
            long weights = Count(d.Shape);
            total += weights;
            if (!TensorNames.IsBlockMatrix(d.Name)) continue;
            linearWeights += weights;
            linearBits += 8 * d.Type.ByteLength(d.Shape);
        }
        return (linearBits, linearWeights, total);
    }

    /// <summary>
    /// The first BF16 block scale that is not a finite number ≥ 0 (<see cref="Int6Blocks"/> and <see cref="Int4Blocks"/> write
    /// max/31 or max/7 rounded up, or 0). The levels need no check: every 6-bit or 4-bit value decodes to a finite weight.
    /// </summary>
    private static long? FirstBadScale(ReadOnlySpan<byte> scales)
    {
        var bits = MemoryMarshal.Cast<byte, ushort>(scales);
        // Sign set, or exponent all ones (∞, NaN): both live in the top 9 bits. The vector screen finds the block of 32
        // that holds the first one (a model's load reads 4 MB of these per 32,000 × 2048 table); the loop names it.
        int b = 0;
        var sign = Vector512.Create((ushort)0x8000);
        var exponent = Vector512.Create((ushort)0x7F80);
        for (; b + Vector512<ushort>.Count <= bits.Length; b += Vector512<ushort>.Count)
        {
            var v = Vector512.Create(bits.Slice(b, Vector512<ushort>.Count));
            if (!((v & sign) == Vector512<ushort>.Zero) || Vector512.EqualsAny(v & exponent, exponent)) break;
        }
        for (; b < bits.Length; b++)
            if ((bits[b] & 0x8000) != 0 || (bits[b] & 0x7F80) == 0x7F80) return b;
        return null;
    }

    private static long? FirstNonFinite(ReadOnlySpan<byte> bytes, TensorType type)
    {
        const int chunk = 1 << 14;
        Span<float> buffer = type == TensorType.F32 ? default : new float[chunk];
        int size = type.ElementSize();
        long count = bytes.Length / size;
        for (long start = 0; start < count; start += chunk)
        {
            int n = (int)Math.Min(chunk, count - start);
            var slice = bytes.Slice((int)(start * size), n * size);
            ReadOnlySpan<float> values;
            if (type == TensorType.F32) values = MemoryMarshal.Cast<byte, float>(slice);
            else
            {
                TensorView.Convert(slice, type, buffer[..n]);
                values = buffer[..n];
            }
            // A sum times zero is NaN exactly when some term is not finite or the sum overflows; look closer then.
            if (float.IsNaN(TensorPrimitives.Sum(values) * 0f))
                for (int i = 0; i < n; i++)
                    if (!float.IsFinite(values[i])) return start + i;
        }
        return null;
    }
}
