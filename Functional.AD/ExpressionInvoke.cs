using System.Linq.Expressions;
using System.Runtime.CompilerServices;

namespace Functional.AD;

/// <summary>
/// <c>f.Invoke(args)</c> calls one expression from inside another. When the outer expression is read, the call is
/// inlined (beta reduction), so the inner function is differentiated, batched and compiled with the outer one.
/// Called eagerly, it compiles <c>f</c> once (cached per expression) and runs it.
/// </summary>
/// <example><code>
/// Expression&lt;Func&lt;Tensor, Tensor&gt;&gt; sigmoid = z =&gt; 0.5 * (Np.Tanh(z / 2) + 1);
/// Expression&lt;Func&lt;Tensor, Tensor&gt;&gt; f = x =&gt; sigmoid.Invoke(x * 3);
/// </code></example>
public static class ExpressionInvoke
{
    static readonly ConditionalWeakTable<LambdaExpression, Delegate> compiled = new();

    static TDelegate Get<TDelegate>(Expression<TDelegate> f) where TDelegate : Delegate =>
        (TDelegate)compiled.GetValue(f, e => e.Compile());

    /// <summary>Calls <paramref name="f"/> on one argument.</summary>
    public static TResult Invoke<T1, TResult>(this Expression<Func<T1, TResult>> f, T1 a1) => Get(f)(a1);
    /// <summary>Calls <paramref name="f"/> on two arguments.</summary>
    public static TResult Invoke<T1, T2, TResult>(this Expression<Func<T1, T2, TResult>> f, T1 a1, T2 a2) => Get(f)(a1, a2);
    /// <summary>Calls <paramref name="f"/> on three arguments.</summary>
    public static TResult Invoke<T1, T2, T3, TResult>(this Expression<Func<T1, T2, T3, TResult>> f, T1 a1, T2 a2, T3 a3) => Get(f)(a1, a2, a3);
    /// <summary>Calls <paramref name="f"/> on four arguments.</summary>
    public static TResult Invoke<T1, T2, T3, T4, TResult>(this Expression<Func<T1, T2, T3, T4, TResult>> f, T1 a1, T2 a2, T3 a3, T4 a4) => Get(f)(a1, a2, a3, a4);
}
