namespace Functional.AD;

/// <summary>Scalar functions used by derivative rules of <c>double</c> and <c>float</c> code.</summary>
/// <example><code>
/// double s = ScalarMath.Sigmoid(0.0);            // 0.5
/// double sign = ScalarMath.Sign(-3.0);           // -1
/// </code></example>
public static partial class ScalarMath
{
    /// <summary>Sign as a floating value: -1, 0 or 1 (NaN for NaN).</summary>
    public static double Sign(double x) => x > 0 ? 1 : x < 0 ? -1 : x == 0 ? 0 : double.NaN;
    /// <summary>Sign as a floating value: -1, 0 or 1 (NaN for NaN).</summary>
    public static float Sign(float x) => x > 0 ? 1 : x < 0 ? -1 : x == 0 ? 0 : float.NaN;
    /// <summary>Logistic sigmoid 1 / (1 + e^-x).</summary>
    public static double Sigmoid(double x) => x >= 0 ? 1 / (1 + Math.Exp(-x)) : Math.Exp(x) / (1 + Math.Exp(x));
    /// <summary>Logistic sigmoid 1 / (1 + e^-x).</summary>
    public static float Sigmoid(float x) => x >= 0 ? 1 / (1 + MathF.Exp(-x)) : MathF.Exp(x) / (1 + MathF.Exp(x));
    /// <summary>Softplus log(1 + e^x), computed stably: max(x, 0) + log1p(e^-|x|), as the tensor kernel does.</summary>
    public static double Softplus(double x)
    {
        double u = Math.Exp(-Math.Abs(x)), w = 1 + u;
        // log1p(u) = log(w) * u / (w - 1) corrects the rounding of w = 1 + u (Goldberg 1991, thm 4)
        return Math.Max(x, 0) + (w - 1 == 0 ? u : Math.Log(w) * (u / (w - 1)));
    }
    /// <summary>Softplus log(1 + e^x), computed stably: max(x, 0) + log1p(e^-|x|), as the tensor kernel does.</summary>
    public static float Softplus(float x)
    {
        float u = MathF.Exp(-MathF.Abs(x)), w = 1 + u;
        return MathF.Max(x, 0) + (w - 1 == 0 ? u : MathF.Log(w) * (u / (w - 1)));
    }
    /// <summary>max(x, 0).</summary>
    public static double Relu(double x) => x > 0 ? x : 0;
    /// <summary>max(x, 0).</summary>
    public static float Relu(float x) => x > 0 ? x : 0;
    /// <summary>C#'s remainder <c>a % b</c> (truncated: the sign of the dividend).</summary>
    public static double Rem(double a, double b) => a % b;
    /// <summary>C#'s remainder <c>a % b</c> (truncated: the sign of the dividend).</summary>
    public static float Rem(float a, float b) => a % b;
}
