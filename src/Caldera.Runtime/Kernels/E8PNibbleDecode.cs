using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Caldera.Runtime.Kernels;

/// <summary>
/// E8P words decoded to 4·C (int8) entirely in zmm registers, 64 words at a time, with byte permutes (AVX-512 VBMI)
/// and GF(2) affine maps (GFNI) instead of one table load per word. The int8 Q pass of <see cref="Int8CodedRows"/>
/// is built on it.
/// </summary>
/// <remarks>
/// Each word w = (p, s) becomes a 32-bit record of eight nibbles, nibble i = [m_i (2 bits), n_i, h]:
///   m_i  = the magnitude code of coordinate i of pattern p (|y_i| = m_i + ½, so 4|y_i| = 4m_i + 2 ∈ {2, 6, 10}),
///   n_i  = coordinate i negative: bit i+1 of s for i &lt; 7; for i = 7 the parity of s's bits 1–7 XOR "Σp odd",
///   h    = the shift bit (bit 0 of s: σ = −¼).
/// Both halves are cheap on 64 words at once: the pattern half comes from two 256-entry byte lookups (the magnitude
/// codes of coordinates 0–3 and 4–7; two vpermi2b on 128-entry halves and a blend on p's top bit each) and GF(2)
/// affine maps of those bytes (gf2p8affineqb: bit moves, and for n₇ the parity "Σp odd"); the sign half is linear in s
/// over GF(2) — bit moves, a broadcast of h and one parity — so one more affine map per record byte; the halves are
/// XORed. With the levels in coordinate-major order (<see cref="CoordinateSums"/>) each record byte then gives U for
/// its two coordinates of all 64 words with one vpermb each (a 16-entry table, nibble → U = 4·C + 11 ∈ [0, 22], the
/// unsigned operand vpmaddubsw needs: Σ 4C·q = Σ U·q − 11·Σq). In natural order (<see cref="TileSums"/>,
/// <see cref="PairSums"/>) a record is first spread over its word's eight byte lanes (vpermi2b) and each lane takes its
/// nibble (vpmultishiftqb). The two-source lookups (vpermi2b) and their blends are the costly steps; the one-source
/// vpermb table is not (benchmarks/README.md).
/// Every step is exact integer work, so the block sums equal the scalar reference's.
/// </remarks>
internal static unsafe class E8PNibbleDecode
{
    /// <summary>Offset that makes every 4·C entry (odd, |4C| ≤ 11) a non-negative byte.</summary>
    public const int Offset = 11;

    public static bool IsSupported => Avx512Vbmi.IsSupported && Avx512BW.IsSupported && Gfni.V512.IsSupported;

    // The tables are literals: data in the image, with no class initialiser. A static readonly table built at run
    // time made NativeAOT test the initialisation inside every loop that inlines this decode; that call path spilled
    // the decode's registers around the test, and the published app's Q pass ran 1.8 times as long as the JIT's.
    // E8PNibbleDecodeTablesTests derives each table again from the codebook.

    /// <summary>The magnitude codes of pattern p, coordinates 4h … 4h + 3 two bits each, at [256h + p]: two tables of 256 bytes, four zmm each.</summary>
    internal static ReadOnlySpan<byte> MagnitudeTable =>
    [
        0x00, 0x00, 0x00, 0x00, 0x00, 0x40, 0x10, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x40, 0x40, 0x40, 0x40, 0x10, 0x10, 0x10, 0x10, 0x50, 0x04, 0x04, 0x04, 0x04, 0x44, 0x14, 0x01, 0x01,
        0x01, 0x01, 0x41, 0x11, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x80, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x50, 0x50, 0x50, 0x50, 0x20, 0x04,
        0x04, 0x04, 0x04, 0x04, 0x04, 0x44, 0x44, 0x44, 0x44, 0x14, 0x14, 0x14, 0x14, 0x54, 0x08, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x41, 0x41, 0x41, 0x41, 0x11, 0x11, 0x11, 0x11, 0x51, 0x05, 0x05,
        0x05, 0x05, 0x45, 0x15, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x80, 0x80, 0x80, 0x80, 0x10, 0x10,
        0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x50, 0x50, 0x50, 0x50, 0x50, 0x50, 0x90, 0x20, 0x20, 0x20, 0x20, 0x60, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x44, 0x44, 0x44, 0x44, 0x44, 0x44,
        0x84, 0x14, 0x14, 0x14, 0x14, 0x14, 0x14, 0x54, 0x54, 0x54, 0x54, 0x24, 0x08, 0x08, 0x08, 0x08, 0x48, 0x18, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41,
        0x81, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x51, 0x51, 0x51, 0x51, 0x21, 0x05, 0x05, 0x05, 0x05, 0x05, 0x05, 0x45, 0x45, 0x45, 0x45, 0x15, 0x15, 0x15, 0x15, 0x55, 0x09, 0x02, 0x02, 0x02, 0x02,
        0x42, 0x12, 0x06, 0x01, 0x04, 0x10, 0x40, 0x15, 0x15, 0x15, 0x15, 0x15, 0x15, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x51, 0x51, 0x51, 0x51, 0x51, 0x54, 0x54, 0x54, 0x54, 0x54, 0x54, 0x50, 0x05,
        0x00, 0x40, 0x10, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x50, 0x44, 0x14, 0x41, 0x11, 0x05, 0x40, 0x10, 0x04, 0x01, 0x40, 0x10, 0x04, 0x01, 0x00, 0x40, 0x10, 0x04, 0x01, 0x00, 0x00, 0x40, 0x10,
        0x04, 0x01, 0x00, 0x00, 0x00, 0x80, 0x20, 0x54, 0x08, 0x51, 0x45, 0x15, 0x02, 0x50, 0x44, 0x14, 0x41, 0x11, 0x05, 0x00, 0x50, 0x44, 0x14, 0x41, 0x11, 0x05, 0x40, 0x10, 0x04, 0x01, 0x00, 0x50,
        0x44, 0x14, 0x41, 0x11, 0x05, 0x40, 0x10, 0x04, 0x01, 0x40, 0x10, 0x04, 0x01, 0x00, 0x00, 0x50, 0x44, 0x14, 0x41, 0x11, 0x05, 0x40, 0x10, 0x04, 0x01, 0x40, 0x10, 0x04, 0x01, 0x00, 0x40, 0x10,
        0x04, 0x01, 0x00, 0x00, 0x00, 0x90, 0x60, 0x84, 0x24, 0x48, 0x18, 0x81, 0x21, 0x55, 0x09, 0x42, 0x12, 0x06, 0x80, 0x20, 0x54, 0x08, 0x51, 0x45, 0x15, 0x02, 0x40, 0x10, 0x04, 0x01, 0x80, 0x20,
        0x54, 0x08, 0x51, 0x45, 0x15, 0x02, 0x50, 0x44, 0x14, 0x41, 0x11, 0x05, 0x00, 0x40, 0x10, 0x04, 0x01, 0x00, 0x80, 0x20, 0x54, 0x08, 0x51, 0x45, 0x15, 0x02, 0x50, 0x44, 0x14, 0x41, 0x11, 0x05,
        0x00, 0x50, 0x44, 0x14, 0x41, 0x11, 0x05, 0x40, 0x10, 0x04, 0x01, 0x00, 0x40, 0x10, 0x04, 0x01, 0x00, 0x00, 0x80, 0x20, 0x54, 0x08, 0x51, 0x45, 0x15, 0x02, 0x50, 0x44, 0x14, 0x41, 0x11, 0x05,
        0x00, 0x50, 0x44, 0x14, 0x41, 0x11, 0x05, 0x40, 0x10, 0x04, 0x01, 0x00, 0x50, 0x44, 0x14, 0x41, 0x11, 0x05, 0x40, 0x10, 0x04, 0x01, 0x40, 0x10, 0x04, 0x01, 0x00, 0x00, 0x40, 0x10, 0x04, 0x01,
        0x00, 0x00, 0x00, 0x55, 0x55, 0x55, 0x55, 0x50, 0x44, 0x14, 0x41, 0x11, 0x05, 0x50, 0x44, 0x14, 0x41, 0x11, 0x05, 0x44, 0x14, 0x41, 0x11, 0x05, 0x50, 0x44, 0x14, 0x41, 0x11, 0x05, 0x54, 0x15
    ];

    /// <summary>The GF(2) matrices taking a magnitude byte to record byte k's m fields (k = 0…3; for k = 3 with n₇'s share of the Σp parity), and [4] taking m₀…m₃'s byte to its share.</summary>
    internal static ReadOnlySpan<ulong> MagnitudeMatrices => [0x0102000004080000, 0x1020000040800000, 0x0102000004080000, 0x1020000040805500, 0x0000000000005500];

    /// <summary>The GF(2) matrices taking s (a word's low byte) to the sign and shift bits of record byte k.</summary>
    internal static ReadOnlySpan<ulong> SignMatrices => [0x0000020100000401, 0x0000080100001001, 0x0000200100004001, 0x000080010000FE01];

    /// <summary>
    /// The vpermi2b indices of the four steps of a block, 64 bytes each: step t puts record bytes 0–3 of word 8t + j
    /// (at 32k + 8t + j of the pair of record vectors) into bytes 8j..8j+3 of qword j, and repeats them in bytes 4–7
    /// (lane 7's nibble reads bits 28–35; the value table ignores bits 4–5 of its index).
    /// </summary>
    internal static ReadOnlySpan<byte> SpreadTable =>
    [
        0x00, 0x20, 0x40, 0x60, 0x00, 0x20, 0x40, 0x60, 0x01, 0x21, 0x41, 0x61, 0x01, 0x21, 0x41, 0x61, 0x02, 0x22, 0x42, 0x62, 0x02, 0x22, 0x42, 0x62, 0x03, 0x23, 0x43, 0x63, 0x03, 0x23, 0x43, 0x63,
        0x04, 0x24, 0x44, 0x64, 0x04, 0x24, 0x44, 0x64, 0x05, 0x25, 0x45, 0x65, 0x05, 0x25, 0x45, 0x65, 0x06, 0x26, 0x46, 0x66, 0x06, 0x26, 0x46, 0x66, 0x07, 0x27, 0x47, 0x67, 0x07, 0x27, 0x47, 0x67,
        0x08, 0x28, 0x48, 0x68, 0x08, 0x28, 0x48, 0x68, 0x09, 0x29, 0x49, 0x69, 0x09, 0x29, 0x49, 0x69, 0x0A, 0x2A, 0x4A, 0x6A, 0x0A, 0x2A, 0x4A, 0x6A, 0x0B, 0x2B, 0x4B, 0x6B, 0x0B, 0x2B, 0x4B, 0x6B,
        0x0C, 0x2C, 0x4C, 0x6C, 0x0C, 0x2C, 0x4C, 0x6C, 0x0D, 0x2D, 0x4D, 0x6D, 0x0D, 0x2D, 0x4D, 0x6D, 0x0E, 0x2E, 0x4E, 0x6E, 0x0E, 0x2E, 0x4E, 0x6E, 0x0F, 0x2F, 0x4F, 0x6F, 0x0F, 0x2F, 0x4F, 0x6F,
        0x10, 0x30, 0x50, 0x70, 0x10, 0x30, 0x50, 0x70, 0x11, 0x31, 0x51, 0x71, 0x11, 0x31, 0x51, 0x71, 0x12, 0x32, 0x52, 0x72, 0x12, 0x32, 0x52, 0x72, 0x13, 0x33, 0x53, 0x73, 0x13, 0x33, 0x53, 0x73,
        0x14, 0x34, 0x54, 0x74, 0x14, 0x34, 0x54, 0x74, 0x15, 0x35, 0x55, 0x75, 0x15, 0x35, 0x55, 0x75, 0x16, 0x36, 0x56, 0x76, 0x16, 0x36, 0x56, 0x76, 0x17, 0x37, 0x57, 0x77, 0x17, 0x37, 0x57, 0x77,
        0x18, 0x38, 0x58, 0x78, 0x18, 0x38, 0x58, 0x78, 0x19, 0x39, 0x59, 0x79, 0x19, 0x39, 0x59, 0x79, 0x1A, 0x3A, 0x5A, 0x7A, 0x1A, 0x3A, 0x5A, 0x7A, 0x1B, 0x3B, 0x5B, 0x7B, 0x1B, 0x3B, 0x5B, 0x7B,
        0x1C, 0x3C, 0x5C, 0x7C, 0x1C, 0x3C, 0x5C, 0x7C, 0x1D, 0x3D, 0x5D, 0x7D, 0x1D, 0x3D, 0x5D, 0x7D, 0x1E, 0x3E, 0x5E, 0x7E, 0x1E, 0x3E, 0x5E, 0x7E, 0x1F, 0x3F, 0x5F, 0x7F, 0x1F, 0x3F, 0x5F, 0x7F
    ];

    /// <summary>Byte offsets of the low bytes of words 0, 2, …, 62, then 1, 3, …, 63: a residual block's first words, then its second words.</summary>
    internal static ReadOnlySpan<byte> PairLowByteTable =>
    [
        0x00, 0x04, 0x08, 0x0C, 0x10, 0x14, 0x18, 0x1C, 0x20, 0x24, 0x28, 0x2C, 0x30, 0x34, 0x38, 0x3C, 0x40, 0x44, 0x48, 0x4C, 0x50, 0x54, 0x58, 0x5C, 0x60, 0x64, 0x68, 0x6C, 0x70, 0x74, 0x78, 0x7C,
        0x02, 0x06, 0x0A, 0x0E, 0x12, 0x16, 0x1A, 0x1E, 0x22, 0x26, 0x2A, 0x2E, 0x32, 0x36, 0x3A, 0x3E, 0x42, 0x46, 0x4A, 0x4E, 0x52, 0x56, 0x5A, 0x5E, 0x62, 0x66, 0x6A, 0x6E, 0x72, 0x76, 0x7A, 0x7E
    ];

    /// <summary>vpermb indices of an 8×8 byte transpose: byte 8·c + j of the result is byte 8·j + c of the source.</summary>
    internal static ReadOnlySpan<byte> WordTransposeTable =>
    [
        0x00, 0x08, 0x10, 0x18, 0x20, 0x28, 0x30, 0x38, 0x01, 0x09, 0x11, 0x19, 0x21, 0x29, 0x31, 0x39, 0x02, 0x0A, 0x12, 0x1A, 0x22, 0x2A, 0x32, 0x3A, 0x03, 0x0B, 0x13, 0x1B, 0x23, 0x2B, 0x33, 0x3B,
        0x04, 0x0C, 0x14, 0x1C, 0x24, 0x2C, 0x34, 0x3C, 0x05, 0x0D, 0x15, 0x1D, 0x25, 0x2D, 0x35, 0x3D, 0x06, 0x0E, 0x16, 0x1E, 0x26, 0x2E, 0x36, 0x3E, 0x07, 0x0F, 0x17, 0x1F, 0x27, 0x2F, 0x37, 0x3F
    ];

    /// <summary>U = 4·C + 11 for every nibble [m, n, h], repeated four times so vpermb may ignore the lane's bits 4–5.</summary>
    internal static ReadOnlySpan<byte> NibbleValueTable =>
    [
        0x0E, 0x12, 0x16, 0x0B, 0x0A, 0x06, 0x02, 0x0B, 0x0C, 0x10, 0x14, 0x0B, 0x08, 0x04, 0x00, 0x0B, 0x0E, 0x12, 0x16, 0x0B, 0x0A, 0x06, 0x02, 0x0B, 0x0C, 0x10, 0x14, 0x0B, 0x08, 0x04, 0x00, 0x0B,
        0x0E, 0x12, 0x16, 0x0B, 0x0A, 0x06, 0x02, 0x0B, 0x0C, 0x10, 0x14, 0x0B, 0x08, 0x04, 0x00, 0x0B, 0x0E, 0x12, 0x16, 0x0B, 0x0A, 0x06, 0x02, 0x0B, 0x0C, 0x10, 0x14, 0x0B, 0x08, 0x04, 0x00, 0x0B
    ];

    /// <summary>
    /// <see cref="NibbleValueTable"/> halved: U/2 = (4·C + 11)/2 ∈ [0, 11] (U is even for every code nibble; the odd 11s
    /// sit at indices no code nibble takes). Products of U/2 with int8 levels add up in int16 over twice as many
    /// coordinates as products of U (<see cref="DecodeHalvedCoordinateMajor"/>).
    /// </summary>
    internal static ReadOnlySpan<byte> HalvedNibbleValueTable =>
    [
        0x07, 0x09, 0x0B, 0x05, 0x05, 0x03, 0x01, 0x05, 0x06, 0x08, 0x0A, 0x05, 0x04, 0x02, 0x00, 0x05, 0x07, 0x09, 0x0B, 0x05, 0x05, 0x03, 0x01, 0x05, 0x06, 0x08, 0x0A, 0x05, 0x04, 0x02, 0x00, 0x05,
        0x07, 0x09, 0x0B, 0x05, 0x05, 0x03, 0x01, 0x05, 0x06, 0x08, 0x0A, 0x05, 0x04, 0x02, 0x00, 0x05, 0x07, 0x09, 0x0B, 0x05, 0x05, 0x03, 0x01, 0x05, 0x06, 0x08, 0x0A, 0x05, 0x04, 0x02, 0x00, 0x05
    ];

    private static byte* MagnitudeBytes => Address(MagnitudeTable);
    private static byte* SpreadIndices => Address(SpreadTable);
    private static byte* PairLowBytes => Address(PairLowByteTable);
    private static byte* WordTranspose => Address(WordTransposeTable);
    private static byte* NibbleValues => Address(NibbleValueTable);
    private static byte* HalvedNibbleValues => Address(HalvedNibbleValueTable);

    /// <summary>Where a literal table lies in the image: it never moves.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static byte* Address(ReadOnlySpan<byte> table) => (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetReference(table));

    /// <summary>
    /// Σ_{v &lt; 32} ⟨U[w_v], q_v⟩ for the two blocks of 32 words at <paramref name="w0"/> and <paramref name="w1"/>, against
    /// their 256 levels at <paramref name="q0"/> and <paramref name="q1"/>. The caller subtracts 11·Σq per block.
    /// When only one block remains, pass its words twice (<paramref name="w1"/> = <paramref name="w0"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe (int First, int Second) TileSums(ushort* w0, ushort* w1, sbyte* q0, sbyte* q1) =>
        Sums(Vector512.Load((byte*)w0), Vector512.Load((byte*)w1), Vector512.CreateSequence((byte)0, (byte)2), q0, q1);

    /// <summary>
    /// (Σ ⟨U[w₁ᵥ], q_v⟩, Σ ⟨U[w₂ᵥ], q_v⟩) over one block of 32 word pairs (w₁ᵥ, w₂ᵥ) of the 4-bit residual code at
    /// <paramref name="w"/> (64 words, interleaved) against the block's 256 levels: the first words become the first
    /// 32 records, the second words the last 32. The caller subtracts 11·Σq from each.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe (int First, int Second) PairSums(ushort* w, sbyte* q) =>
        Sums(Vector512.Load((byte*)w), Vector512.Load((byte*)(w + 32)), Vector512.Load(PairLowBytes), q, q);

    /// <summary>The two block sums of 64 words given as 128 bytes (<paramref name="low"/>, <paramref name="high"/>) whose low bytes <paramref name="lowBytes"/> lists in record order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe (int First, int Second) Sums(Vector512<byte> low, Vector512<byte> high, Vector512<byte> lowBytes, sbyte* q0, sbyte* q1)
    {
        var (p, s, upperHalf) = Split(low, high, lowBytes);
        var (r0, r1, r2, r3) = Records(p, s, upperHalf);
        // Words 0–31 sit in the low 256 bits of every record byte vector, words 32–63 in the high: pair them per block.
        const byte LowHalves = 0b01_00_01_00, HighHalves = 0b11_10_11_10;
        var first = BlockProducts(Avx512F.Shuffle4x128(r0.AsUInt64(), r1.AsUInt64(), LowHalves).AsByte(),
            Avx512F.Shuffle4x128(r2.AsUInt64(), r3.AsUInt64(), LowHalves).AsByte(), q0);
        var second = BlockProducts(Avx512F.Shuffle4x128(r0.AsUInt64(), r1.AsUInt64(), HighHalves).AsByte(),
            Avx512F.Shuffle4x128(r2.AsUInt64(), r3.AsUInt64(), HighHalves).AsByte(), q1);
        return SumBoth(first, second);
    }

    /// <summary>
    /// The two block sums Σ_{v &lt; 32} ⟨U[w_v], q_v⟩ of the 64 consecutive words at <paramref name="w"/> (two blocks)
    /// against their 512 levels in coordinate-major order at <paramref name="qc"/> (byte 64·c + j is level c of word j;
    /// <see cref="ToCoordinateMajor"/>). The caller subtracts 11·Σq per block.
    /// </summary>
    /// <remarks>
    /// With the levels transposed once per call, record byte k already holds coordinate 2k of every word in its low
    /// nibble and 2k + 1 in its high nibble, lane for lane: one vpermb per coordinate (after a 16-bit shift by four for
    /// the odd ones) gives U for 64 words, where <see cref="TileSums"/> spreads each record over eight lanes first
    /// (vpermi2b + vpmultishiftqb per eight words). Two int16 accumulators take four coordinates each (at most
    /// 4·2·22·127 = 22352 &lt; 2¹⁵).
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe (int First, int Second) CoordinateSums(ushort* w, sbyte* qc) =>
        CoordinateSums(w, Vector512.CreateSequence((byte)0, (byte)2), qc, broadcast: false);

    /// <summary>
    /// (Σ ⟨U[w₁ᵥ], q_v⟩, Σ ⟨U[w₂ᵥ], q_v⟩) over one block of 32 word pairs of the 4-bit residual code at <paramref name="w"/>
    /// (interleaved), as <see cref="PairSums"/>, against the block's levels in coordinate-major order at
    /// <paramref name="qc"/> (byte 64·c + j is level c of word j, j &lt; 32: the block's half of a
    /// <see cref="ToCoordinateMajor"/> pair). Both words of a pair meet the same 32 levels per coordinate: one 256-bit
    /// broadcast each.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe (int First, int Second) ResidualCoordinateSums(ushort* w, sbyte* qc) =>
        CoordinateSums(w, Vector512.Load(PairLowBytes), qc, broadcast: true);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe (int First, int Second) CoordinateSums(ushort* w, Vector512<byte> lowBytes, sbyte* qc, bool broadcast)
    {
        var (p, s, upperHalf) = Split(Vector512.Load((byte*)w), Vector512.Load((byte*)(w + 32)), lowBytes);
        var table = Vector512.Load(NibbleValues);
        var (r0, r1, r2, r3) = Records(p, s, upperHalf);
        var pairs01 = CoordinatePairProducts(r0, table, qc, broadcast) + CoordinatePairProducts(r1, table, qc + 128, broadcast);
        var pairs23 = CoordinatePairProducts(r2, table, qc + 256, broadcast) + CoordinatePairProducts(r3, table, qc + 384, broadcast);
        return BlockSums(pairs01, pairs23);
    }

    /// <summary>The two blocks' sums of int16 pair products in coordinate-major lanes: int32 lane j holds words 4j … 4j + 3, so lanes 0–7 are the first block, 8–15 the second.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (int First, int Second) BlockSums(Vector512<short> pairs01, Vector512<short> pairs23)
    {
        var sums = Widen(pairs01, pairs23);
        var halves = sums + Avx512F.Shuffle4x128(sums, sums, 0b10_11_00_01);
        var quarters = halves + Avx512F.Shuffle(halves, 0b01_00_11_10);
        var total = quarters + Avx512F.Shuffle(quarters, 0b10_11_00_01);
        return (total.ToScalar(), total.GetElement(8));
    }

    /// <summary>vpmaddubsw of U for coordinates 2k (the record byte's low nibble) and 2k + 1 (its high nibble) with their levels at <paramref name="qc"/> and <paramref name="qc"/> + 64 (64 bytes each, or 32 bytes broadcast to both halves).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector512<short> CoordinatePairProducts(Vector512<byte> record, Vector512<byte> table, sbyte* qc, bool broadcast)
    {
        // vpermb reads the index's low six bits; the table repeats every sixteen, so the other nibble's bits 4–5 do not matter.
        var even = Avx512Vbmi.PermuteVar64x8(table, record);
        var odd = Avx512Vbmi.PermuteVar64x8(table, Avx512BW.ShiftRightLogical(record.AsUInt16(), 4).AsByte());
        var evenLevels = broadcast ? Vector512.Create(Vector256.Load(qc)) : Vector512.Load(qc);
        var oddLevels = broadcast ? Vector512.Create(Vector256.Load(qc + 64)) : Vector512.Load(qc + 64);
        return Avx512BW.MultiplyAddAdjacent(even, evenLevels) + Avx512BW.MultiplyAddAdjacent(odd, oddLevels);
    }

    /// <summary>
    /// U = 4·C + 11 of the 64 consecutive words at <paramref name="w"/> in coordinate-major order: u[64·c + j] is
    /// coordinate c of word j (512 bytes), the layout <see cref="CoordinateSums"/> meets its levels in. The batched
    /// int8 pass (<see cref="Int8CodedTile"/>) decodes each row once this way and applies it to every token.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void DecodeCoordinateMajor(ushort* w, byte* u) => DecodeCoordinateMajor(w, Vector512.CreateSequence((byte)0, (byte)2), NibbleValues, u);

    /// <summary>
    /// U/2 = (4·C + 11)/2 of the 64 consecutive words at <paramref name="w"/>, laid out as <see cref="DecodeCoordinateMajor"/>
    /// lays out U: a row decoded once for many tokens, whose products with int8 levels then add up in int16 over all eight
    /// coordinates (8·2·11·127 = 22352 &lt; 2¹⁵) before one widening, and the caller doubles the exact sums.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void DecodeHalvedCoordinateMajor(ushort* w, byte* u) =>
        DecodeCoordinateMajor(w, Vector512.CreateSequence((byte)0, (byte)2), HalvedNibbleValues, u);

    /// <summary>The values of <paramref name="values"/> (U or U/2) of 64 words given as 128 bytes whose low bytes <paramref name="lowBytes"/> lists in record order, coordinate-major at <paramref name="u"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void DecodeCoordinateMajor(ushort* w, Vector512<byte> lowBytes, byte* values, byte* u)
    {
        var (p, s, upperHalf) = Split(Vector512.Load((byte*)w), Vector512.Load((byte*)(w + 32)), lowBytes);
        var table = Vector512.Load(values);
        var (r0, r1, r2, r3) = Records(p, s, upperHalf);
        StoreCoordinates(r0, table, u);
        StoreCoordinates(r1, table, u + 128);
        StoreCoordinates(r2, table, u + 256);
        StoreCoordinates(r3, table, u + 384);
    }

    /// <summary>
    /// U = 4·C + 11 of one block of 32 residual word pairs at <paramref name="w"/> (64 words, interleaved) in the lanes
    /// <see cref="ResidualCoordinateSums"/> decodes them to: u[64·c + j] is coordinate c of the first word of pair j for
    /// j &lt; 32, of the second word of pair j − 32 above (512 bytes). A batch decodes each block of R once this way and
    /// meets every token's levels with <see cref="DecodedResidualProducts"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void DecodeResidualCoordinateMajor(ushort* w, byte* u) => DecodeCoordinateMajor(w, Vector512.Load(PairLowBytes), NibbleValues, u);

    /// <summary>
    /// The products behind <see cref="ResidualCoordinateSums"/> for a block decoded by <see cref="DecodeResidualCoordinateMajor"/>
    /// at <paramref name="u"/>, against the block's levels at <paramref name="qc"/> (32 bytes per coordinate, 64 apart):
    /// int32 lanes 0–7 add up to the exact A sum, lanes 8–15 to B. The caller reduces them (eight blocks or tokens at
    /// once: <see cref="Int8CodedTile.BlockSums"/>) and subtracts 11·Σq from each.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vector512<int> DecodedResidualProducts(byte* u, sbyte* qc)
    {
        var pairs01 = Avx512BW.MultiplyAddAdjacent(Vector512.Load(u), Vector512.Create(Vector256.Load(qc)))
            + Avx512BW.MultiplyAddAdjacent(Vector512.Load(u + 64), Vector512.Create(Vector256.Load(qc + 64)))
            + (Avx512BW.MultiplyAddAdjacent(Vector512.Load(u + 128), Vector512.Create(Vector256.Load(qc + 128)))
                + Avx512BW.MultiplyAddAdjacent(Vector512.Load(u + 192), Vector512.Create(Vector256.Load(qc + 192))));
        var pairs23 = Avx512BW.MultiplyAddAdjacent(Vector512.Load(u + 256), Vector512.Create(Vector256.Load(qc + 256)))
            + Avx512BW.MultiplyAddAdjacent(Vector512.Load(u + 320), Vector512.Create(Vector256.Load(qc + 320)))
            + (Avx512BW.MultiplyAddAdjacent(Vector512.Load(u + 384), Vector512.Create(Vector256.Load(qc + 384)))
                + Avx512BW.MultiplyAddAdjacent(Vector512.Load(u + 448), Vector512.Create(Vector256.Load(qc + 448))));
        return Widen(pairs01, pairs23);
    }

    /// <summary>The int16 pair products' int32 lane sums: lane j adds words 4j … 4j + 3 of both runs.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> Widen(Vector512<short> pairs01, Vector512<short> pairs23) =>
        Avx512BW.MultiplyAddAdjacent(pairs01, Vector512<short>.One) + Avx512BW.MultiplyAddAdjacent(pairs23, Vector512<short>.One);

    /// <summary>U of the two coordinates of <paramref name="record"/> (low nibble, then high) for 64 words, at <paramref name="u"/> and <paramref name="u"/> + 64.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void StoreCoordinates(Vector512<byte> record, Vector512<byte> table, byte* u)
    {
        Avx512Vbmi.PermuteVar64x8(table, record).Store(u);
        Avx512Vbmi.PermuteVar64x8(table, Avx512BW.ShiftRightLogical(record.AsUInt16(), 4).AsByte()).Store(u + 64);
    }

    /// <summary>The pattern bytes p and sign bytes s of 64 words given as 128 bytes (<paramref name="low"/>, <paramref name="high"/>), in the lane order whose low bytes <paramref name="lowBytes"/> lists, and whether p is in the pattern table's upper half.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector512<byte> P, Vector512<byte> S, Vector512<byte> UpperHalf) Split(Vector512<byte> low, Vector512<byte> high, Vector512<byte> lowBytes)
    {
        var p = Avx512Vbmi.PermuteVar64x8x2(low, lowBytes + Vector512<byte>.One, high);
        var s = Avx512Vbmi.PermuteVar64x8x2(low, lowBytes, high);
        return (p, s, Vector512.LessThan(p.AsSByte(), Vector512<sbyte>.Zero).AsByte());
    }

    /// <summary>
    /// The levels of <paramref name="pairs"/> pairs of blocks (512 levels each) in coordinate-major order, for
    /// <see cref="CoordinateSums"/>: qc[512·t + 64·c + j] = q[512·t + 8·j + c]. A vpermb turns each 64 levels (eight
    /// words) into [c][word]; the eight-by-eight transpose of those qwords is 64 moves (a few hundred instructions per call, against the
    /// rows' hundreds of thousands).
    /// </summary>
    public static unsafe void ToCoordinateMajor(sbyte* q, int pairs, sbyte* qc)
    {
        var byWordIndex = Vector512.Load(WordTranspose);
        long* transposed = stackalloc long[8 * 8];
        for (int t = 0; t < pairs; t++, q += 512, qc += 512)
        {
            for (int k = 0; k < 8; k++)
                Avx512Vbmi.PermuteVar64x8(Vector512.Load((byte*)q + 64 * k), byWordIndex).AsInt64().Store(transposed + 8 * k);
            long* columns = (long*)qc;
            for (int c = 0; c < 8; c++)
                for (int k = 0; k < 8; k++) columns[8 * c + k] = transposed[8 * k + c];
        }
    }

    /// <summary>The lane sums of <paramref name="a"/> and <paramref name="b"/>, reduced together (one shuffle tree for both).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (int, int) SumBoth(Vector512<int> a, Vector512<int> b)
    {
        // [a₀₁ a₂₃ | b₀₁ b₂₃] + [a₂₃' …]: 128-bit lanes 0–1 fold a, lanes 2–3 fold b; then within each 128-bit lane.
        var halves = Avx512F.Shuffle4x128(a, b, 0b01_00_01_00) + Avx512F.Shuffle4x128(a, b, 0b11_10_11_10);
        var quarters = halves + Avx512F.Shuffle4x128(halves, halves, 0b10_11_00_01);
        var pairs = quarters + Avx512F.Shuffle(quarters, 0b01_00_11_10);
        var sums = pairs + Avx512F.Shuffle(pairs, 0b10_11_00_01);
        return (sums.ToScalar(), sums.GetElement(8));
    }

    /// <summary>11·Σq_b for each of the <paramref name="blocks"/> 256-level blocks at <paramref name="q"/>: what the offset U = 4C + 11 adds to a block's sum.</summary>
    public static unsafe void BlockOffsets(sbyte* q, int blocks, int* offsets)
    {
        for (int b = 0; b < blocks; b++) offsets[b] = Offset * LevelSum(q + b * Int8Activations.BlockLength);
    }

    /// <summary>Σq over the 256 levels at <paramref name="q"/>: vpsadbw on q + 128, less 128·256.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe int LevelSum(sbyte* q)
    {
        var bias = Vector512.Create((byte)0x80);
        var sums = Vector512<ulong>.Zero;
        for (int i = 0; i < Int8Activations.BlockLength; i += Vector512<byte>.Count)
            sums += Avx512BW.SumAbsoluteDifferences(Vector512.Load((byte*)q + i) ^ bias, Vector512<byte>.Zero).AsUInt64();
        return (int)Vector512.Sum(sums) - 128 * Int8Activations.BlockLength;
    }

    /// <summary>
    /// The four record bytes of 64 words. A pattern's magnitude codes are two bytes, m₀…m₃ and m₄…m₇ (two bits each):
    /// two 256-entry lookups (two vpermi2b on 128-entry halves and a blend each). Record byte k takes its m fields from
    /// one of them and its sign and shift bits from s, each by a GF(2) affine map; n₇'s "Σp odd" term is the parity of
    /// the magnitude codes' low bits (Σp = Σm_i + 4, and m_i ∈ {0, 1, 2} is odd exactly when its low bit is set), one
    /// more affine map of each magnitude byte. Byte permutes bound this decode, so trading two of the four pattern
    /// lookups for affine maps pays.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector512<byte>, Vector512<byte>, Vector512<byte>, Vector512<byte>) Records(Vector512<byte> p, Vector512<byte> s, Vector512<byte> upperHalf)
    {
        var m0 = Lookup(MagnitudeBytes, p, upperHalf);
        var m1 = Lookup(MagnitudeBytes + 256, p, upperHalf);
        var r0 = Affine(m0, MagnitudeMatrices[0]) ^ Affine(s, SignMatrices[0]);
        var r1 = Affine(m0, MagnitudeMatrices[1]) ^ Affine(s, SignMatrices[1]);
        var r2 = Affine(m1, MagnitudeMatrices[2]) ^ Affine(s, SignMatrices[2]);
        var r3 = Avx512F.TernaryLogic(Affine(m1, MagnitudeMatrices[3]), Affine(m0, MagnitudeMatrices[4]), Affine(s, SignMatrices[3]), XorOfThree);
        return (r0, r1, r2, r3);
    }

    /// <summary>vpternlog's truth table of a ⊕ b ⊕ c.</summary>
    private const byte XorOfThree = 0x96;

    /// <summary>The 256-entry byte table at <paramref name="table"/> looked up at every lane of <paramref name="p"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<byte> Lookup(byte* table, Vector512<byte> p, Vector512<byte> upperHalf)
    {
        var lower = Avx512Vbmi.PermuteVar64x8x2(Vector512.Load(table), p, Vector512.Load(table + 64));
        var upper = Avx512Vbmi.PermuteVar64x8x2(Vector512.Load(table + 128), p, Vector512.Load(table + 192));
        return Vector512.ConditionalSelect(upperHalf, upper, lower);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<byte> Affine(Vector512<byte> x, ulong matrix) =>
        Gfni.V512.GaloisFieldAffineTransform(x, Vector512.Create(matrix).AsByte(), 0);

    /// <summary>
    /// ⟨U, q⟩ over one block in sixteen int32 lanes (their sum is the block's): 32 words whose record bytes 0–1 are in <paramref name="bytes01"/> (byte 0 of word j at
    /// j, byte 1 at 32 + j) and bytes 2–3 in <paramref name="bytes23"/>. Four steps of eight words (64 lanes); the int16
    /// pair sums of vpmaddubsw are at most 2·22·127 = 5588, so four of them stay below 2¹⁵ before vpmaddwd widens them.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector512<int> BlockProducts(Vector512<byte> bytes01, Vector512<byte> bytes23, sbyte* q)
    {
        var table = Vector512.Load(NibbleValues);
        // Lane 8j + i takes nibble i of word j's record: bits 4i..4i+7 of its qword.
        var nibbleShifts = Vector512.Create(0x1C1814100C080400UL).AsByte();
        var pairs = Vector512<short>.Zero;
        for (int step = 0; step < 4; step++)
        {
            var record = Avx512Vbmi.PermuteVar64x8x2(bytes01, Vector512.Load(SpreadIndices + 64 * step), bytes23);
            var nibbles = Avx512Vbmi.MultiShift(nibbleShifts, record.AsUInt64());
            var u = Avx512Vbmi.PermuteVar64x8(table, nibbles);
            pairs += Avx512BW.MultiplyAddAdjacent(u, Vector512.Load(q + step * Vector512<sbyte>.Count));
        }
        return Avx512BW.MultiplyAddAdjacent(pairs, Vector512<short>.One);
    }
}
