namespace Functional.AD;

/// <summary>
/// A key for the counter-based random generator <see cref="Rng"/>, as <c>jax.random.PRNGKey</c>: a key is
/// a value, never mutated; the same key gives the same numbers on every machine, and <see cref="Split()"/>
/// derives independent keys. Example: <c>var (k1, k2) = PrngKey.Create(0).Split();</c>
/// </summary>
/// <param name="State">The 64-bit state.</param>
/// <example><code>
/// var key = PrngKey.Create(42);
/// var (k1, k2) = key.Split();                  // independent keys; the same seed gives the same keys
/// var w = Rng.Normal(k1, [3, 2]);
/// </code></example>
public readonly record struct PrngKey(ulong State)
{
    private const ulong SplitTag = 0x5851F42D4C957F2DUL;

    /// <summary>The key for a seed.</summary>
    /// <param name="seed">Any integer.</param><returns>The key.</returns>
    public static PrngKey Create(int seed) => new(RngCore.Mix((ulong)(uint)seed ^ 0xD1B54A32D192ED03UL));

    /// <summary>Two new keys, independent of each other and of this one's numbers.</summary>
    /// <returns>The pair.</returns>
    public (PrngKey, PrngKey) Split() => (Child(0), Child(1));

    /// <summary><paramref name="n"/> new keys; <c>Split(2)</c> gives the same keys as <see cref="Split()"/>.</summary>
    /// <param name="n">How many (non-negative).</param><returns>The keys.</returns>
    public PrngKey[] Split(int n)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        var r = new PrngKey[n];
        for (int i = 0; i < n; i++) r[i] = Child((ulong)i);
        return r;
    }

    private PrngKey Child(ulong i) => new(RngCore.Bits(State ^ SplitTag, i));
}

/// <summary>Random tensors from a <see cref="PrngKey"/> (counter-based: element i depends only on the key and i).</summary>
/// <example><code>
/// var (k1, k2) = PrngKey.Create(0).Split();
/// Tensor w = Rng.Normal(k1, [3, 2]);                    // float32, reproducible from the key
/// Tensor u = Rng.Uniform(k2, [4], low: -1, high: 1, dtype: DType.Float64);
/// </code></example>
public static class Rng
{
    /// <summary>
    /// Standard normal samples (mean 0, variance 1), by Box–Muller on pairs of uniforms. The transcendental
    /// functions are computed with plain IEEE arithmetic, so the numbers are identical on every machine.
    /// Example: <c>Normal(PrngKey.Create(0), [3, 2])</c>.
    /// </summary>
    /// <param name="key">The key.</param><param name="shape">The dimensions.</param><param name="dtype">The dtype.</param>
    /// <returns>The samples.</returns>
    public static Tensor Normal(PrngKey key, int[] shape, DType dtype = DType.Float32)
    {
        CheckDType(dtype, "Rng.Normal");
        var dims = Dims(shape);
        int n = Kernels.Product(dims);
        var z = new double[n];
        for (int i = 0; i < n; i += 2)
        {
            ulong p = (ulong)i;
            double u1 = RngCore.UnitOpen(RngCore.Bits(key.State, p));     // (0, 1]
            double u2 = RngCore.UnitClosedOpen(RngCore.Bits(key.State, p + 1)); // [0, 1)
            double r = Math.Sqrt(-2.0 * RngCore.Log(u1));
            var (s, c) = RngCore.SinCos2Pi(u2);
            z[i] = r * c;
            if (i + 1 < n) z[i + 1] = r * s;
        }
        return dtype switch
        {
            DType.Float64 => Tensor.Adopt(z, dims),
            DType.Float16 => Tensor.Adopt(Array.ConvertAll(z, v => (Half)v), dims),
            DType.BFloat16 => Tensor.Adopt(Array.ConvertAll(z, v => (BFloat16)v), dims),
            _ => Tensor.Adopt(Kernels.Convert<double, float>(z), dims),
        };
    }

    /// <summary>Uniform samples in <c>[low, high)</c>. Example: <c>Uniform(PrngKey.Create(0), [4], -1, 1)</c>.</summary>
    /// <param name="key">The key.</param><param name="shape">The dimensions.</param>
    /// <param name="low">The lower bound, included.</param><param name="high">The upper bound, excluded.</param><param name="dtype">The dtype.</param>
    /// <returns>The samples.</returns>
    public static Tensor Uniform(PrngKey key, int[] shape, double low = 0, double high = 1, DType dtype = DType.Float32)
    {
        if (!(high > low)) throw new ArgumentException($"Rng.Uniform: high ({high}) must exceed low ({low})", nameof(high));
        if (!double.IsFinite(high - low)) throw new ArgumentException($"Rng.Uniform: the bounds [{low}, {high}) must be finite and their difference too", nameof(high));
        CheckDType(dtype, "Rng.Uniform");
        var dims = Dims(shape);
        int n = Kernels.Product(dims);
        if (dtype == DType.Float64)
        {
            var d = new double[n];
            for (int i = 0; i < n; i++)
            {
                double v = low + (high - low) * RngCore.UnitClosedOpen(RngCore.Bits(key.State, (ulong)i));
                d[i] = v < high ? v : Math.BitDecrement(high);
            }
            return Tensor.Adopt(d, dims);
        }
        if (dtype is DType.Float16 or DType.BFloat16)
        {
            // rounded to the dtype, a value just below high can round up to it: such values take the largest one below
            var u = new double[n];
            for (int i = 0; i < n; i++) u[i] = low + (high - low) * RngCore.UnitClosedOpen(RngCore.Bits(key.State, (ulong)i));
            if (dtype == DType.Float16)
            {
                var hh = (Half)high;
                var below = (double)hh < high ? hh : Half.BitDecrement(hh);
                return Tensor.Adopt(Array.ConvertAll(u, v => (double)(Half)v < high ? (Half)v : below), dims);
            }
            var bh = (BFloat16)high;
            var bBelow = (double)bh < high ? bh : BFloat16.FromBits(bh.Bits == 0 ? (ushort)0x8001 : (ushort)(bh.Bits + (bh.Bits >= 0x8000 ? 1 : -1)));
            return Tensor.Adopt(Array.ConvertAll(u, v => (double)(BFloat16)v < high ? (BFloat16)v : bBelow), dims);
        }
        var f = new float[n];
        float fh = (float)high;
        for (int i = 0; i < n; i++)
        {
            float v = (float)(low + (high - low) * RngCore.UnitClosedOpen(RngCore.Bits(key.State, (ulong)i)));
            f[i] = v < fh ? v : MathF.BitDecrement(fh);
        }
        return Tensor.Adopt(f, dims);
    }

    private static void CheckDType(DType dtype, string op)
    {
        if (dtype is not (DType.Float32 or DType.Float64 or DType.Float16 or DType.BFloat16))
            throw new ArgumentOutOfRangeException(nameof(dtype), dtype, $"{op}: dtype must be a float dtype (Float16, BFloat16, Float32 or Float64), not {dtype}");
    }

    private static int[] Dims(int[] shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        long size = 1;
        foreach (var d in shape)
        {
            if (d < 0) throw new ArgumentException($"shape [{string.Join(",", shape)}] has a negative dimension", nameof(shape));
            size = Math.Min(size * d, long.MaxValue / 65536);
        }
        if (size > Array.MaxLength)
            throw new ArgumentException($"shape [{string.Join(",", shape)}] has {size:N0} elements, more than one tensor can hold ({Array.MaxLength:N0})", nameof(shape));
        return (int[])shape.Clone();
    }
}

/// <summary>
/// The hashing and the platform-independent transcendental functions behind <see cref="Rng"/>. Only
/// IEEE-exact operations (+, -, *, /, sqrt) are used, so results do not depend on the C runtime's libm.
/// </summary>
internal static class RngCore
{
    /// <summary>The SplitMix64 finaliser (Steele, Lea, Flood 2014): a bijective 64-bit mixer.</summary>
    internal static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>64 random bits for counter <paramref name="counter"/> under key state <paramref name="key"/>.</summary>
    internal static ulong Bits(ulong key, ulong counter) => Mix(key ^ Mix(counter * 0x9E3779B97F4A7C15UL + 0x632BE59BD9B4E019UL));

    /// <summary>A double in [0, 1) from the top 53 bits.</summary>
    internal static double UnitClosedOpen(ulong bits) => (bits >> 11) * (1.0 / (1UL << 53));

    /// <summary>A double in (0, 1] from the top 53 bits.</summary>
    internal static double UnitOpen(ulong bits) => ((bits >> 11) + 1) * (1.0 / (1UL << 53));

    /// <summary>Natural log of x in (0, 1]: x = m·2^e with m in [√½, √2), ln m = 2 atanh((m-1)/(m+1)) by its series.</summary>
    internal static double Log(double x)
    {
        int scale = 0;
        if (x < 2.2250738585072014E-308) { x *= 18014398509481984.0; scale = -54; } // subnormal: multiply by 2^54 (exact)
        long bits = BitConverter.DoubleToInt64Bits(x);
        int e = (int)((bits >> 52) & 0x7FF) - 1023 + scale;
        double m = BitConverter.Int64BitsToDouble((bits & 0x000FFFFFFFFFFFFFL) | 0x3FF0000000000000L); // [1, 2)
        if (m > 1.4142135623730951) { m *= 0.5; e++; }
        double s = (m - 1) / (m + 1), s2 = s * s;
        // 2 (s + s^3/3 + ... + s^25/25): |s| <= 0.1716, so the tail is below 1e-20
        double t = 1.0 / 25;
        for (int k = 23; k >= 1; k -= 2) t = 1.0 / k + s2 * t;
        double lnm = 2 * s * t;
        const double ln2Hi = 0.6931471803691238, ln2Lo = 1.9082149292705877e-10;
        return e * ln2Hi + (e * ln2Lo + lnm);
    }

    /// <summary>(sin 2πu, cos 2πu) for u in [0, 1): quadrant reduction (exact), then Taylor series on [0, π/2).</summary>
    internal static (double Sin, double Cos) SinCos2Pi(double u)
    {
        double v = u * 4;               // exact
        int q = (int)v;
        double r = (v - q) * (Math.PI / 2); // [0, π/2)
        double r2 = r * r;
        double sn = 0, cs = 0;
        for (int k = 12; k >= 1; k--)
        {
            // sin: Σ (-1)^k r^(2k+1)/(2k+1)!, cos: Σ (-1)^k r^(2k)/(2k)!  (Horner in r²)
            sn = 1 - r2 / ((2 * k) * (2 * k + 1)) * sn;
            cs = 1 - r2 / ((2 * k - 1) * (2 * k)) * cs;
        }
        sn *= r;
        return q switch
        {
            0 => (sn, cs),
            1 => (cs, -sn),
            2 => (-sn, -cs),
            _ => (-cs, sn),
        };
    }
}
