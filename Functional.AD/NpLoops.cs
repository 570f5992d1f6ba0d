namespace Functional.AD;

/// <summary>Loops whose bodies are nested lambdas, held as sub-graphs: differentiable, batchable, compiled as loops.</summary>
/// <example><code>
/// Expression&lt;Func&lt;double, double&gt;&gt; f = x =&gt; NpLoops.Fold(5, x, (i, c) =&gt; c * c * 0.5 + i);
/// var df = Ad.Grad(f);      // the loop is differentiated as a loop, not unrolled
/// </code></example>
public static class NpLoops
{
    /// <summary>
    /// <c>fori_loop</c>: starting from <paramref name="init"/>, applies <c>carry = body(i, carry)</c> for
    /// <c>i = 0 .. n-1</c> and returns the last carry. The carry keeps its shape and dtype. Inside a transformed
    /// expression write <c>NpLoops.Fold(n, x, (double i, Tensor c) =&gt; ...)</c>: it is read as one loop node,
    /// differentiated in forward and reverse mode (reverse keeps one carry per iteration), and run as a real loop.
    /// </summary>
    public static Tensor Fold(int n, Tensor init, Func<double, Tensor, Tensor> body)
    {
        Check(n, body);
        ArgumentNullException.ThrowIfNull(init);
        var c = init;
        for (int i = 0; i < n; i++) c = Loops.CheckCarry(body(i, c), c, i);
        return c;
    }

    static void Check(int n, Delegate body)
    {
        ArgumentNullException.ThrowIfNull(body);
        if (n < 0) throw new ArgumentOutOfRangeException(nameof(n), n, $"NpLoops.Fold: the iteration count must not be negative (it is {n}); 0 returns init unchanged.");
    }

    /// <summary>The scalar form of <see cref="Fold(int, Tensor, Func{double, Tensor, Tensor})"/>: a double carry.</summary>
    public static double Fold(int n, double init, Func<double, double, double> body)
    {
        Check(n, body);
        var c = init;
        for (int i = 0; i < n; i++) c = body(i, c);
        return c;
    }
}
