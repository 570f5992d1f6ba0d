namespace Functional.AD;

/// <summary>
/// The scalar functions of the elementwise vocabulary that .NET's <c>Math</c> lacks (erfc, the inverse error function,
/// log-gamma, digamma, polygamma, the floored modulus, log-add-exp, the GELU forms, ...): the element code of their
/// primitives on float32 and float64 tensors, and their spellings in <c>double</c> and <c>float</c> code. The float
/// overloads compute in double and round once, so a float32 result is within half an ulp of the float64 one rounded.
/// </summary>
public static partial class ScalarMath
{
    const double Ln2 = 0.69314718055994530942;
    const double SqrtPi = 1.77245385090551602730;
    const double InvSqrt2 = 0.70710678118654752440;

    /// <summary>ln(1 + x), accurate near 0: log(u) x / (u - 1) with u = 1 + x corrects u's rounding (Goldberg 1991, thm 4).</summary>
    static double Log1pD(double x)
    {
        double u = 1 + x;
        return u == 1 ? x : double.IsPositiveInfinity(u) ? u : Math.Log(u) * (x / (u - 1));
    }

    /// <summary>e^(-x^2) without the rounding of x^2 in the exponent: x = h + l with h on a 2^-16 grid, so h^2 is exact
    /// and x^2 - h^2 = l (x + h) is computed to full precision (what keeps erfc accurate at large x).</summary>
    static double ExpMinusSquare(double x)
    {
        double h = Math.Round(x * 65536) / 65536;
        return Math.Exp(-h * h) * Math.Exp(-(x - h) * (x + h));
    }

    /// <summary>erf x by its series of positive terms, 2/sqrt(pi) e^(-x^2) sum_n 2^n x^(2n+1) / (1 3 5 ... (2n+1)).</summary>
    static double ErfSeries(double x)
    {
        if (Math.Abs(x) >= 6) return Math.Sign(x);
        double x2 = x * x, term = x, sum = x;
        for (int n = 1; n < 400 && Math.Abs(term) > 1e-17 * Math.Abs(sum); n++)
        {
            term *= 2 * x2 / (2 * n + 1);
            sum += term;
        }
        return 2 / SqrtPi * Math.Exp(-x2) * sum;
    }

    /// <summary>
    /// The complementary error function <c>erfc x = 1 - erf x</c>, accurate where <c>1 - Erf(x)</c> loses every digit
    /// (large x): below 2 it is <c>1 - erf x</c>; from 2 on, the continued fraction
    /// <c>erfc x = 2x e^(-x²) / (√π (2x² + 1 - 1·2 / (2x² + 5 - 3·4 / (2x² + 9 - ...))))</c> (Abramowitz and Stegun
    /// 7.1.14), evaluated by Lentz's method. Example: <c>Erfc(10)</c> is <c>2.088487583762545e-45</c>.
    /// </summary>
    public static double Erfc(double x)
    {
        if (double.IsNaN(x)) return x;
        if (x < 2) return 1 - ErfSeries(x);
        if (x > 27.3) return 0;
        double b0 = 2 * x * x + 1, f = b0, c = b0, d = 0;
        for (int n = 1; n < 5000; n++)
        {
            double a = -(2.0 * n - 1) * (2.0 * n), b = 2 * x * x + 4 * n + 1;
            d = b + a * d;
            c = b + a / c;
            d = 1 / d;
            double delta = c * d;
            f *= delta;
            if (Math.Abs(delta - 1) < 1e-17) break;
        }
        return 2 * x * ExpMinusSquare(x) / (SqrtPi * f);
    }

    /// <summary>The complementary error function in float32 (computed in double, rounded once).</summary>
    public static float Erfc(float x) => (float)Erfc((double)x);

    /// <summary>
    /// The inverse error function: the x with <c>erf x = y</c>, for y in [-1, 1] (±1 give ±∞, outside is NaN). Winitzki's
    /// approximation to start, then Halley steps on <c>erf x - y</c> (written <c>(1 - y) - erfc x</c> near 1, so that the
    /// tails keep their precision). Example: <c>ErfInv(0.5)</c> is <c>0.4769362762044699</c>.
    /// </summary>
    public static double ErfInv(double y)
    {
        if (double.IsNaN(y) || y < -1 || y > 1) return double.NaN;
        if (y == 1) return double.PositiveInfinity;
        if (y == -1) return double.NegativeInfinity;
        if (y == 0) return y;
        double a = Math.Abs(y);
        // Winitzki (2008): erfinv(a) ~ sqrt(sqrt((2/(pi k) + ln(1-a^2)/2)^2 - ln(1-a^2)/k) - (2/(pi k) + ln(1-a^2)/2)), k = 0.147
        const double k = 0.147;
        double ln = Math.Log((1 - a) * (1 + a));
        double t = 2 / (Math.PI * k) + ln / 2;
        double x = Math.Sqrt(Math.Max(0, Math.Sqrt(t * t - ln / k) - t));
        for (int i = 0; i < 12; i++)
        {
            double r = a <= 0.5 ? ErfSeries(x) - a : (1 - a) - Erfc(x);
            double s = r / (2 / SqrtPi * Math.Exp(-x * x));
            double step = s / (1 + x * s);
            x -= step;
            if (Math.Abs(step) <= 1e-17 * x) break;
        }
        return y < 0 ? -x : x;
    }

    /// <summary>The inverse error function in float32 (computed in double, rounded once).</summary>
    public static float ErfInv(float y) => (float)ErfInv((double)y);

    /// <summary>|sin(πx)| for the reflection formula: x is first reduced by its nearest integer (exactly), so no
    /// multiple of π is rounded into the argument.</summary>
    static double AbsSinPi(double x) => Math.Abs(Math.Sin(Math.PI * (x - Math.Round(x))));

    /// <summary>cot(πx), reduced like <see cref="AbsSinPi"/> (cot has period 1).</summary>
    static double CotPi(double x)
    {
        double r = x - Math.Round(x);
        return 1 / Math.Tan(Math.PI * r);
    }

    /// <summary>
    /// <c>ln |Γ(x)|</c>: Stirling's series <c>(z - ½) ln z - z + ½ ln 2π + Σ B₂ₖ / (2k(2k-1) z^(2k-1))</c> at
    /// <c>z = x + m ≥ 15</c>, less <c>ln(x (x+1) ... (x+m-1))</c>; within ¼ of the roots 1 and 2 the Taylor series of
    /// ln Γ(1 + z); below ½ the reflection
    /// <c>ln Γ(x) = ln(π / |sin πx|) - ln Γ(1 - x)</c>. Poles (0, -1, -2, ...) give +∞.
    /// Example: <c>Lgamma(5)</c> is <c>ln 24</c>; <c>Lgamma(0.5)</c> is <c>ln √π</c>.
    /// </summary>
    public static double Lgamma(double x)
    {
        if (double.IsNaN(x)) return x;
        if (double.IsInfinity(x)) return double.PositiveInfinity;
        if (x <= 0 && x == Math.Floor(x)) return double.PositiveInfinity;
        if (x < 0.5) return Math.Log(Math.PI / AbsSinPi(x)) - Lgamma(1 - x);
        // around the roots 1 and 2: the Taylor series of ln Γ(1 + z), so that ln Γ keeps its relative precision there
        if (Math.Abs(x - 1) <= 0.25) return LgammaOnePlus(x - 1);
        if (Math.Abs(x - 2) <= 0.25) { double z2 = x - 2; return Log1pD(z2) + LgammaOnePlus(z2); }
        double z = x, prod = 1;
        while (z < 15) { prod *= z; z += 1; }
        double iz = 1 / z, iz2 = iz * iz;
        double series = iz * (1.0 / 12 + iz2 * (-1.0 / 360 + iz2 * (1.0 / 1260 + iz2 * (-1.0 / 1680 + iz2 * (1.0 / 1188 + iz2 * (-691.0 / 360360 + iz2 * (1.0 / 156)))))));
        return (z - 0.5) * Math.Log(z) - z + 0.5 * Math.Log(2 * Math.PI) + series - Math.Log(prod);
    }

    /// <summary>ζ(k) for k = 2 .. 64, from the Hurwitz zeta of <see cref="Polygamma(double, double)"/>: ζ(k) = (-1)^k ψ⁽ᵏ⁻¹⁾(1) / (k-1)!.</summary>
    static readonly Lazy<double[]> ZetaAtIntegers = new(() =>
    {
        var z = new double[65];
        double fact = 1;
        for (int k = 2; k <= 64; k++)
        {
            fact *= k - 1;
            z[k] = ((k & 1) == 0 ? 1 : -1) * Polygamma(k - 1, 1.0) / fact;
        }
        return z;
    });

    /// <summary>ln Γ(1 + z) = -γ z + Σₖ₌₂ ζ(k) (-z)ᵏ / k for |z| ≤ ¼ (about 28 terms; exact at z = 0, the root ln Γ(1) = 0).</summary>
    static double LgammaOnePlus(double z)
    {
        const double EulerGamma = 0.57721566490153286061;
        var zeta = ZetaAtIntegers.Value;
        double sum = 0, p = z * z;   // (-z)^k for k = 2
        for (int k = 2; k <= 64; k++)
        {
            double term = zeta[k] * p / k;
            sum += term;
            if (Math.Abs(term) < 1e-18 * Math.Abs(sum)) break;
            p *= -z;
        }
        return -EulerGamma * z + sum;
    }

    /// <summary><c>ln |Γ(x)|</c> in float32 (computed in double, rounded once).</summary>
    public static float Lgamma(float x) => (float)Lgamma((double)x);

    /// <summary>
    /// The digamma function <c>ψ(x) = d/dx ln Γ(x)</c>: the recurrence <c>ψ(x) = ψ(x + 1) - 1/x</c> up to 12, then the
    /// asymptotic series <c>ln z - 1/(2z) - Σ B₂ₖ / (2k z^(2k))</c>; below 0 the reflection
    /// <c>ψ(x) = ψ(1 - x) - π cot πx</c>. <c>ψ(+0) = -∞</c>; negative integers give NaN.
    /// Example: <c>Digamma(1)</c> is <c>-γ ≈ -0.5772</c>.
    /// </summary>
    public static double Digamma(double x)
    {
        if (double.IsNaN(x) || double.IsNegativeInfinity(x)) return double.NaN;
        if (double.IsPositiveInfinity(x)) return x;
        if (x == 0) return double.IsNegative(x) ? double.PositiveInfinity : double.NegativeInfinity;
        if (x < 0)
        {
            if (x == Math.Floor(x)) return double.NaN;
            return Digamma(1 - x) - Math.PI * CotPi(x);
        }
        double acc = 0;
        while (x < 12) { acc -= 1 / x; x += 1; }
        double ix2 = 1 / (x * x);
        double series = ix2 * (1.0 / 12 - ix2 * (1.0 / 120 - ix2 * (1.0 / 252 - ix2 * (1.0 / 240 - ix2 * (1.0 / 132 - ix2 * (691.0 / 32760 - ix2 / 12))))));
        return acc + Math.Log(x) - 0.5 / x - series;
    }

    /// <summary>The digamma function in float32 (computed in double, rounded once).</summary>
    public static float Digamma(float x) => (float)Digamma((double)x);

    // B_2k for k = 1 .. 10
    static readonly double[] Bernoulli = [1.0 / 6, -1.0 / 30, 1.0 / 42, -1.0 / 30, 5.0 / 66, -691.0 / 2730, 7.0 / 6, -3617.0 / 510, 43867.0 / 798, -174611.0 / 330];

    /// <summary>
    /// The polygamma function <c>ψ⁽ⁿ⁾(x)</c>, the n-th derivative of <see cref="Digamma(double)"/> (n a non-negative
    /// integer; anything else gives NaN). For n ≥ 1, <c>ψ⁽ⁿ⁾(x) = (-1)ⁿ⁺¹ n! ζ(n+1, x)</c> with the Hurwitz zeta summed
    /// directly up to <c>z ≥ n + 15</c> and its Euler–Maclaurin tail beyond; below 0 the reflection
    /// <c>ψ⁽ⁿ⁾(x) = (-1)ⁿ ψ⁽ⁿ⁾(1 - x) - π dⁿ/dxⁿ cot πx</c>. Poles give +∞ (odd n) or -∞ (even n), as libtorch does.
    /// Example: <c>Polygamma(1, 1)</c> is <c>π²/6</c>.
    /// </summary>
    public static double Polygamma(double n, double x)
    {
        if (double.IsNaN(n) || double.IsNaN(x) || n < 0 || n != Math.Floor(n)) return double.NaN;
        if (n == 0) return Digamma(x);
        if (n > 170) return double.NaN;
        int k = (int)n;
        bool odd = (k & 1) == 1;
        if (x <= 0 && x == Math.Floor(x)) return odd ? double.PositiveInfinity : double.NegativeInfinity;
        if (double.IsPositiveInfinity(x)) return odd ? 0.0 : -0.0;
        if (double.IsNegativeInfinity(x)) return double.NaN;
        if (x < 0) return (odd ? -1 : 1) * Polygamma(n, 1 - x) - Math.Pow(Math.PI, k + 1) * CotDerivative(k, CotPi(x));
        double fact = 1;
        for (int i = 2; i <= k; i++) fact *= i;
        double s = k + 1, z = x, zeta = 0;
        while (z < k + 15) { zeta += Math.Pow(z, -s); z += 1; }
        // Euler–Maclaurin tail: z^(1-s)/(s-1) + z^-s/2 + sum_j B_2j/(2j)! s(s+1)...(s+2j-2) z^(-s-2j+1)
        double zs = Math.Pow(z, -s), tail = z * zs / (s - 1) + zs / 2;
        double rising = s, fac2j = 2, zpow = zs / z;   // s (s+1)...(s+2j-2), (2j)!, z^(-s-2j+1)
        for (int j = 1; j <= Bernoulli.Length; j++)
        {
            double term = Bernoulli[j - 1] / fac2j * rising * zpow;
            tail += term;
            if (Math.Abs(term) < 1e-18 * Math.Abs(tail)) break;
            rising *= (s + 2 * j - 1) * (s + 2 * j);
            fac2j *= (2 * j + 1) * (2 * j + 2);
            zpow /= z * z;
        }
        return (odd ? 1 : -1) * fact * (zeta + tail);
    }

    /// <summary>The polygamma function in float32 (computed in double, rounded once).</summary>
    public static float Polygamma(float n, float x) => (float)Polygamma((double)n, (double)x);

    /// <summary>P_n(c) with dⁿ/dyⁿ cot y = P_n(cot y): P_0 = c, P_(m+1) = -(1 + c²) P_m'(c). Its terms all have one sign.</summary>
    static double CotDerivative(int n, double c)
    {
        var p = new double[n + 2];
        p[1] = 1;
        for (int m = 0; m < n; m++)
        {
            var q = new double[n + 2];
            for (int i = 1; i < p.Length; i++)
            {
                if (p[i] == 0) continue;
                double di = i * p[i];           // derivative: i p_i c^(i-1)
                q[i - 1] -= di;                 // -(1) * ...
                if (i + 1 < q.Length) q[i + 1] -= di;   // -(c^2) * ...
            }
            p = q;
        }
        double r = 0;
        for (int i = p.Length - 1; i >= 0; i--) r = r * c + p[i];
        return r;
    }

    /// <summary>
    /// numpy's and JAX's modulus <c>a mod b</c>: floored, with the sign of the divisor (<c>Mod(-7, 3)</c> is 2, where C#'s
    /// <c>-7 % 3</c> is -1): <c>fmod(a, b)</c> moved by b when its sign differs from b's.
    /// </summary>
    public static double Mod(double a, double b)
    {
        double r = a % b;
        return r != 0 && (r < 0) != (b < 0) ? r + b : r;
    }

    /// <summary>The floored modulus in float32 (see <see cref="Mod(double, double)"/>).</summary>
    public static float Mod(float a, float b)
    {
        float r = a % b;
        return r != 0 && (r < 0) != (b < 0) ? r + b : r;
    }

    /// <summary>
    /// numpy's and JAX's floor division <c>⌊a / b⌋</c>, consistent with <see cref="Mod(double, double)"/>
    /// (<c>a ≈ FloorDivide(a, b) * b + Mod(a, b)</c>): <c>(a - fmod(a, b)) / b</c>, less one when fmod's sign differs from b's,
    /// rounded to the nearest integer. A zero divisor gives <c>a / b</c> (±∞ or NaN). Example: <c>FloorDivide(-7, 2)</c> is -4.
    /// </summary>
    public static double FloorDivide(double a, double b)
    {
        if (b == 0) return a / b;
        double r = a % b;
        double q = (a - r) / b;
        if (r != 0 && (r < 0) != (b < 0)) q -= 1;
        if (q == 0) return 0 * (a / b);   // a signed zero, the sign of a / b
        double f = Math.Floor(q);
        return q - f > 0.5 ? f + 1 : f;
    }

    /// <summary>Floor division in float32 (see <see cref="FloorDivide(double, double)"/>).</summary>
    public static float FloorDivide(float a, float b)
    {
        if (b == 0) return a / b;
        float r = a % b;
        float q = (a - r) / b;
        if (r != 0 && (r < 0) != (b < 0)) q -= 1;
        if (q == 0) return 0 * (a / b);
        float f = MathF.Floor(q);
        return q - f > 0.5f ? f + 1 : f;
    }

    /// <summary><c>ln(e^a + e^b)</c> without overflow or loss: <c>max(a, b) + log1p(e^-|a - b|)</c> (equal arguments,
    /// infinities included, give <c>a + ln 2</c>). Example: <c>LogAddExp(1000, 1000)</c> is <c>1000.6931...</c>.</summary>
    public static double LogAddExp(double a, double b)
    {
        if (a == b) return a + Ln2;
        return Math.Max(a, b) + Log1pD(Math.Exp(-Math.Abs(a - b)));
    }

    /// <summary><c>ln(e^a + e^b)</c> in float32 (computed in double, rounded once).</summary>
    public static float LogAddExp(float a, float b) => (float)LogAddExp((double)a, (double)b);

    /// <summary><c>1 / √x</c>. Example: <c>Rsqrt(4)</c> is 0.5.</summary>
    public static double Rsqrt(double x) => 1 / Math.Sqrt(x);

    /// <summary><c>1 / √x</c> in float32 (computed in double, rounded once).</summary>
    public static float Rsqrt(float x) => (float)(1 / Math.Sqrt(x));

    /// <summary><c>ln σ(x) = -softplus(-x)</c>, as <c>min(x, 0) - log1p(e^-|x|)</c>: exact for large negative x
    /// (<c>LogSigmoid(-1000)</c> is -1000) and keeps the tiny value at large positive x.</summary>
    public static double LogSigmoid(double x) => Math.Min(x, 0) - Log1pD(Math.Exp(-Math.Abs(x)));

    /// <summary><c>ln σ(x)</c> in float32 (computed in double, rounded once).</summary>
    public static float LogSigmoid(float x) => (float)LogSigmoid((double)x);

    /// <summary>SiLU (swish) <c>x σ(x)</c>; its limit 0 at -∞.</summary>
    public static double Silu(double x) => double.IsNegativeInfinity(x) ? -0.0 : x * Sigmoid(x);

    /// <summary>SiLU in float32 (computed in double, rounded once).</summary>
    public static float Silu(float x) => (float)Silu((double)x);

    /// <summary>GELU, exact form: <c>x Φ(x) = ½ x erfc(-x/√2)</c> (erfc keeps it accurate for large negative x); its limit 0 at -∞.</summary>
    public static double Gelu(double x) => double.IsNegativeInfinity(x) ? -0.0 : 0.5 * x * Erfc(-x * InvSqrt2);

    /// <summary>GELU, exact form, in float32 (computed in double, rounded once).</summary>
    public static float Gelu(float x) => (float)Gelu((double)x);

    /// <summary>√(2/π), the scale of GELU's tanh form.</summary>
    internal const double GeluTanhScale = 0.79788456080286535588;
    /// <summary>The cubic coefficient of GELU's tanh form.</summary>
    internal const double GeluTanhCubic = 0.044715;

    /// <summary>GELU, tanh form: <c>½ x (1 + tanh(√(2/π) (x + 0.044715 x³)))</c>, written <c>x σ(2z)</c> so that large negative
    /// x keeps its tiny value; its limit 0 at -∞.</summary>
    public static double GeluTanh(double x)
    {
        if (double.IsNegativeInfinity(x)) return -0.0;
        double z = GeluTanhScale * (x + GeluTanhCubic * x * x * x);
        return x * Sigmoid(2 * z);
    }

    /// <summary>GELU, tanh form, in float32 (computed in double, rounded once).</summary>
    public static float GeluTanh(float x) => (float)GeluTanh((double)x);

    /// <summary>Leaky ReLU <c>x ≥ 0 ? x : s x</c> (jax.nn.leaky_relu; the slope at 0 is 1).</summary>
    public static double LeakyRelu(double x, double negativeSlope) => x >= 0 ? x : negativeSlope * x;

    /// <summary>Leaky ReLU in float32.</summary>
    public static float LeakyRelu(float x, float negativeSlope) => x >= 0 ? x : negativeSlope * x;

    /// <summary>ELU <c>x &gt; 0 ? x : α (e^x - 1)</c> (jax.nn.elu), with e^x - 1 accurate near 0 (Kahan: (u - 1) x / ln u, u = e^x).</summary>
    public static double Elu(double x, double alpha)
    {
        if (x > 0) return x;
        double u = Math.Exp(x);
        double em1 = u == 1 ? x : u - 1 == -1 ? -1 : (u - 1) * (x / Math.Log(u));
        return alpha * em1;
    }

    /// <summary>ELU in float32 (computed in double, rounded once).</summary>
    public static float Elu(float x, float alpha) => (float)Elu((double)x, (double)alpha);

    // float versions of Math functions, computed in double and rounded once (the tensor kernels use these, so eager,
    // unrolled and fused code agree to the bit)
    internal static float Asin(float x) => (float)Math.Asin(x);
    internal static float Acos(float x) => (float)Math.Acos(x);
    internal static float Sinh(float x) => (float)Math.Sinh(x);
    internal static float Cosh(float x) => (float)Math.Cosh(x);
    internal static float Asinh(float x) => (float)Math.Asinh(x);
    internal static float Acosh(float x) => (float)Math.Acosh(x);
    internal static float Atanh(float x) => (float)Math.Atanh(x);
    internal static float Tan(float x) => (float)Math.Tan(x);
    internal static float Cbrt(float x) => (float)Math.Cbrt(x);
    internal static float Atan2(float y, float x) => (float)Math.Atan2(y, x);
    internal static float Hypot(float a, float b) => (float)double.Hypot(a, b);
}
