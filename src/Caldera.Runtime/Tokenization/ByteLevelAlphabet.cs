namespace Caldera.Runtime.Tokenization;

/// <summary>
/// GPT-2's byte-level alphabet: each byte 0..255 is written as one printable character so that BPE tokens
/// can be stored as strings. Printable Latin-1 bytes ('!'..'~', '¡'..'¬', '®'..'ÿ') stand for themselves;
/// the other 68 bytes, in increasing order, map to U+0100, U+0101, … (so a space is 'Ġ', a newline 'Ċ').
/// </summary>
internal static class ByteLevelAlphabet
{
    private const int FirstRemapped = 0x100;

    /// <summary>Byte of each alphabet character, indexed by char code; -1 outside the alphabet.</summary>
    private static readonly short[] ByteOfChar = BuildByteOfChar();

    /// <summary>
    /// The bytes a token string stands for, or false when it holds a character outside the alphabet
    /// (an added or special token, or not a byte-level vocabulary at all).
    /// </summary>
    public static bool TryGetBytes(string token, out byte[] bytes)
    {
        bytes = new byte[token.Length];
        for (int i = 0; i < token.Length; i++)
        {
            char c = token[i];
            if (c >= ByteOfChar.Length || ByteOfChar[c] < 0) return false;
            bytes[i] = (byte)ByteOfChar[c];
        }
        return true;
    }

    private static short[] BuildByteOfChar()
    {
        var map = new short[FirstRemapped + 256];
        Array.Fill(map, (short)-1);
        int remapped = 0;
        for (int b = 0; b < 256; b++)
        {
            bool standsForItself = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            map[standsForItself ? b : FirstRemapped + remapped++] = (short)b;
        }
        return map;
    }
}
