using System.Runtime.InteropServices;
using Caldera.Runtime.Formats;
using Caldera.Runtime.Inference;
using Caldera.Runtime.Model;

namespace Caldera.Runtime.Tests.Hosting;

/// <summary>
/// A .cald read in place from unmanaged memory, as from an embedded resource's stream: only 2-byte aligned, yet the
/// same model as the file, and corrupt bytes are an error naming the resource.
/// </summary>
public unsafe class ResourceBytesTests
{
    [Fact]
    public void A_cald_at_a_2_byte_aligned_address_gives_the_files_logits()
    {
        byte[] cald = CompressedStories.Bytes;
        using var memory = new NativeBuffer(cald, misalignBy: 2);
        using var fromResource = CaldFile.Open(UnmanagedBytes.From(memory.Stream(), "resource Caldera.Models.Stories.cald in Test"));
        using var model = LoadedModel.Open(CompressedStories.Path);
        Assert.Equal("resource Caldera.Models.Stories.cald in Test", fromResource.Path);

        using var weights = new CompressedModelWeights(fromResource.Content, fromResource.Path);
        using var resident = new Transformer(fromResource.Content.Config, binding => weights.Bind(binding), new TransformerOptions { Threads = 1 });
        using var mapped = model.CreateTransformer(new TransformerOptions { Threads = 1 });
        int[] tokens = [1, 403, 407, 261, 378];
        Assert.Equal(mapped.Prefill(tokens, 0).ToArray(), resident.Prefill(tokens, 0).ToArray());
        Assert.Equal(mapped.Decode(300, 5).ToArray(), resident.Decode(300, 5).ToArray());
    }

    [Fact]
    public void Corrupt_resource_bytes_are_an_error_naming_the_resource()
    {
        byte[] cald = CompressedStories.Bytes;
        cald[1000] ^= 0x10;
        using var memory = new NativeBuffer(cald, misalignBy: 2);
        var e = Assert.Throws<ModelFormatException>(() => CaldFile.Open(UnmanagedBytes.From(memory.Stream(), "resource R in App")));
        Assert.StartsWith("resource R in App: checksum mismatch", e.Message);
    }

    /// <summary>Native memory holding bytes at an address that is 2 but not 4 mod 8.</summary>
    private sealed class NativeBuffer : IDisposable
    {
        private readonly byte* _block;
        private readonly byte* _start;
        private readonly int _length;

        public NativeBuffer(byte[] bytes, int misalignBy)
        {
            _block = (byte*)NativeMemory.AlignedAlloc((nuint)(bytes.Length + 64), 64);
            _start = _block + misalignBy;
            _length = bytes.Length;
            bytes.CopyTo(new Span<byte>(_start, _length));
        }

        public UnmanagedMemoryStream Stream() => new(_start, _length);

        public void Dispose() => NativeMemory.AlignedFree(_block);
    }
}
