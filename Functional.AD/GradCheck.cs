using System.Globalization;
using System.Linq.Expressions;

namespace Functional.AD;

/// <summary>The outcome of a <see cref="GradCheck"/>: the worst disagreement between symbolic and numerical derivatives.</summary>
/// <example><code>
/// var r = GradCheck.Check((Expression&lt;Func&lt;double, double&gt;&gt;)(x =&gt; Math.Exp(x) * x), 0.5);
/// Console.WriteLine(r);        // the worst component: symbolic, numeric, error
/// r.Assert();                  // throws GradCheckException unless r.Ok
/// </code></example>
public sealed record GradCheckResult(bool Ok, double MaxError, string Worst, double Symbolic, double Numeric, int Checked, double Tolerance)
{
    /// <summary>A one-line report.</summary>
    public override string ToString() => Ok
        ? $"ok: {Checked} components, worst error {MaxError:G3} at {Worst} (symbolic {Symbolic:G10}, numeric {Numeric:G10})"
        : $"MISMATCH at {Worst}: symbolic {Symbolic:G10}, numeric {Numeric:G10}, error {MaxError:G3} > tolerance {Tolerance:G3} ({Checked} components checked)";

    /// <summary>Throws <see cref="GradCheckException"/> with the report unless the check passed.</summary>
    public GradCheckResult Assert() => Ok ? this : throw new GradCheckException(ToString());
}

/// <summary>A symbolic gradient disagreed with central finite differences.</summary>
/// <example><code>
/// try { GradCheck.Check(f, x).Assert(); }
/// catch (GradCheckException e) { Console.WriteLine(e.Message); }   // the worst component, symbolic and numeric
/// </code></example>
public sealed class GradCheckException(string message) : AdException(message);

/// <summary>
/// Checks <c>Ad.Grad(f)</c> against central finite differences in float64, <c>(f(x + h e) - f(x - h e)) / 2h</c>,
/// either for every component of the first argument (<see cref="Check{T1,TR}"/>) or along random directions
/// (<see cref="CheckDirections{T1,TR}"/>, which scales to large inputs). Tensor leaves are promoted to float64 first.
/// Errors are measured as <c>|a - b| / max(1, |a|, |b|)</c>. Use it in your own FsCheck properties.
/// </summary>
/// <example><code>
/// Expression&lt;Func&lt;Tensor, Tensor&gt;&gt; f = x =&gt; Np.Sum(Np.Tanh(x) * x);
/// GradCheck.Check(f, new Tensor(new[] { 0.3, -1.2 })).Assert();
/// </code></example>
public static class GradCheck
{
    /// <summary>Compares every component of the gradient with a central difference.</summary>
    public static GradCheckResult Check<T1, TR>(Expression<Func<T1, TR>> f, T1 x, double h = 1e-5, double tolerance = 1e-6)
    {
        Validate(f, x, h, tolerance);
        var (fx, grad, flat, unravel) = Prepare(f, x);
        var g = Tree.Ravel(grad).Flat.AsType(DType.Float64).ToDoubleArray();
        var v = flat.ToDoubleArray();
        var worst = new GradCheckResult(true, 0, "-", 0, 0, v.Length, tolerance);
        for (int i = 0; i < v.Length; i++)
        {
            double num = Central(fx, unravel, v, Unit(v.Length, i), h);
            worst = Worse(worst, g[i], num, $"component {i} of the raveled argument", v.Length, tolerance);
        }
        return worst;
    }

    /// <summary>Compares <c>&lt;∇f(x), u&gt;</c> with a central difference along <paramref name="directions"/> random unit directions.</summary>
    public static GradCheckResult CheckDirections<T1, TR>(Expression<Func<T1, TR>> f, T1 x, int directions = 3, int seed = 0, double h = 1e-5, double tolerance = 1e-6)
    {
        Validate(f, x, h, tolerance);
        if (directions < 1) throw new ArgumentOutOfRangeException(nameof(directions), directions, $"GradCheck.CheckDirections: directions must be 1 or more, not {directions}.");
        var (fx, grad, flat, unravel) = Prepare(f, x);
        var g = Tree.Ravel(grad).Flat.AsType(DType.Float64).ToDoubleArray();
        var v = flat.ToDoubleArray();
        var rng = new Random(seed);
        var worst = new GradCheckResult(true, 0, "-", 0, 0, directions, tolerance);
        for (int d = 0; d < directions; d++)
        {
            var u = new double[v.Length];
            double norm = 0;
            for (int i = 0; i < u.Length; i++) { u[i] = rng.NextDouble() * 2 - 1; norm += u[i] * u[i]; }
            norm = Math.Sqrt(norm);
            double sym = 0;
            for (int i = 0; i < u.Length; i++) { u[i] /= norm; sym += g[i] * u[i]; }
            worst = Worse(worst, sym, Central(fx, unravel, v, u, h), $"direction {d} (seed {seed})", directions, tolerance);
        }
        return worst;
    }

    static void Validate(LambdaExpression f, object? x, double h, double tolerance)
    {
        ArgumentNullException.ThrowIfNull(f);
        if (x is null) throw new ArgumentNullException(nameof(x), "GradCheck: the point x is null; pass the argument to check the gradient at.");
        if (!(h > 0) || double.IsInfinity(h))
            throw new ArgumentOutOfRangeException(nameof(h), h, $"GradCheck: the finite-difference step h must be a positive, finite number (1e-5 is the default; 1e-7 .. 1e-3 are sensible in float64), not {h}.");
        if (!(tolerance >= 0))
            throw new ArgumentOutOfRangeException(nameof(tolerance), tolerance, $"GradCheck: the tolerance must be 0 or more, not {tolerance}.");
    }

    static (Func<T1, double>, T1, Tensor, Func<Tensor, T1>) Prepare<T1, TR>(Expression<Func<T1, TR>> f, T1 x)
    {
        var x64 = Tree.Map(t => t.AsType(DType.Float64), x);
        var fc = f.Compile();
        var grad = Ad.Grad(f).Compile()(x64);
        var (flat, unravel) = Tree.Ravel(x64);
        Func<T1, double> fx = a => fc(a) switch
        {
            Tensor t => (double)t,
            double d => d,
            float s => s,
            var o => throw new GradException($"GradCheck needs a scalar output, got {o}"),
        };
        return (fx, grad, flat, unravel);
    }

    static double[] Unit(int n, int i) { var u = new double[n]; u[i] = 1; return u; }

    static double Central<T1>(Func<T1, double> f, Func<Tensor, T1> unravel, double[] v, double[] u, double h)
    {
        var plus = new double[v.Length]; var minus = new double[v.Length];
        for (int i = 0; i < v.Length; i++) { plus[i] = v[i] + h * u[i]; minus[i] = v[i] - h * u[i]; }
        return (f(unravel(new Tensor(plus))) - f(unravel(new Tensor(minus)))) / (2 * h);
    }

    static GradCheckResult Worse(GradCheckResult cur, double sym, double num, string where, int n, double tol)
    {
        double err = Math.Abs(sym - num) / Math.Max(1, Math.Max(Math.Abs(sym), Math.Abs(num)));
        if (double.IsNaN(sym) != double.IsNaN(num)) err = double.PositiveInfinity;
        else if (double.IsNaN(sym)) err = 0;
        if (err <= cur.MaxError && cur.Worst != "-") return cur;
        return new GradCheckResult(cur.Ok && err <= tol, err, where, sym, num, n, tol);
    }
}
