using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Caldera.Runtime.Model;

/// <summary>
/// Builds a <see cref="ModelCheckpoint"/> whose tensors live in pinned managed arrays instead of a mapped
/// file: synthetic models for benchmarks and re-laid-out variants of real models for tests.
/// </summary>
internal sealed unsafe class InMemoryCheckpoint(LlamaConfig config, string name = "in-memory")
{
    private readonly List<TensorView> _tensors = [];
    private readonly List<byte[]> _storage = [];

    /// <summary>Zeroed, pinned storage for a new tensor, to fill in its stored type.</summary>
    public Span<byte> Allocate(string tensor, long[] shape, TensorType type)
    {
        long count = 1;
        foreach (long d in shape) count *= d;
        var bytes = GC.AllocateArray<byte>(checked((int)(count * type.ElementSize())), pinned: true);
        _storage.Add(bytes);
        _tensors.Add(new TensorView(tensor, shape, type, (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(bytes))));
        return bytes;
    }

    /// <summary>Adds a tensor holding <paramref name="values"/> rounded to <paramref name="type"/>.</summary>
    public void Add(string tensor, long[] shape, TensorType type, ReadOnlySpan<float> values)
    {
        var bytes = Allocate(tensor, shape, type);
        switch (type)
        {
            case TensorType.F32:
                values.CopyTo(MemoryMarshal.Cast<byte, float>(bytes));
                break;
            case TensorType.F16:
                var halves = MemoryMarshal.Cast<byte, Half>(bytes);
                for (int i = 0; i < values.Length; i++) halves[i] = (Half)values[i];
                break;
            case TensorType.BF16:
                // Round to nearest even on the 16 bits dropped from the f32.
                var bf16 = MemoryMarshal.Cast<byte, ushort>(bytes);
                for (int i = 0; i < values.Length; i++)
                {
                    uint bits = BitConverter.SingleToUInt32Bits(values[i]);
                    bf16[i] = (ushort)((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16);
                }
                break;
        }
    }

    /// <summary>The checkpoint, validated like a loaded one; it keeps the arrays alive.</summary>
    public ModelCheckpoint Build() => new ModelCheckpoint(name, "in-memory", config, _tensors, [new Storage(_storage)]).Validate();

    private sealed class Storage(List<byte[]> arrays) : IDisposable
    {
        public void Dispose() => arrays.Clear();
    }
}
