using Caldera.Runtime.Formats;

namespace Caldera.Runtime.Tests.Formats;

/// <summary>The managed SHA-256 against FIPS 180-4's examples and against .NET's own (OpenSSL on Linux) at every padding case.</summary>
public class Sha256Tests
{
    [Theory]
    [InlineData("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")]
    [InlineData("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")]
    [InlineData("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")]
    public void Digest_equals_the_FIPS_180_4_example(string message, string digest) =>
        Assert.Equal(digest, Convert.ToHexStringLower(Sha256.HashData(System.Text.Encoding.ASCII.GetBytes(message))));

    [Fact]
    public void Digest_equals_dotnets_at_every_length_through_three_blocks_and_at_a_token_text()
    {
        var random = new Random(7);
        var bytes = new byte[100_003];
        random.NextBytes(bytes);
        foreach (int length in Enumerable.Range(0, 200).Append(4 * 954).Append(bytes.Length))
            Assert.Equal(System.Security.Cryptography.SHA256.HashData(bytes.AsSpan(0, length)), Sha256.HashData(bytes.AsSpan(0, length)));
    }
}
