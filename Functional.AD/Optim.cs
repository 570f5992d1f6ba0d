using System.Linq.Expressions;

namespace Functional.AD;

/// <summary>
/// The state of <see cref="Optim.Adam{T}"/>: running means of the gradient (<see cref="M"/>) and of its square
/// (<see cref="V"/>), pytrees shaped like the parameters, and the number of steps taken (a scalar tensor).
/// </summary>
/// <typeparam name="T">The parameters' pytree type.</typeparam>
/// <param name="M">First-moment estimate, one tensor per parameter.</param>
/// <param name="V">Second-moment estimate, one tensor per parameter.</param>
/// <param name="Step">Steps taken so far (a rank-0 tensor, so that the state is a pytree of tensors).</param>
/// <example><code>
/// var state = Optim.AdamInit(p);                      // zeros shaped like p, Step = 0
/// (p, state) = Optim.Adam&lt;Params&gt;(0.01).Compile()(p, grads, state);
/// Tree.Save("adam.safetensors", (p, state));           // parameters and state in one checkpoint
/// </code></example>
public sealed record AdamState<T>(T M, T V, Tensor Step);

/// <summary>
/// Optimisers as pure functions over pytrees, written as expressions so that they run on any backend and can be
/// inlined into a jitted training step: <c>Compile()</c> them for the CPU, jit them for Torch, or call them with
/// <c>Invoke</c> inside a larger expression. Nothing is mutated: each step returns new parameters (and state).
/// <code>
/// var sgd = Optim.Sgd&lt;Params&gt;(0.1);                                  // (p, g) =&gt; p - 0.1 g, leaf by leaf
/// Expression&lt;Func&lt;Params, Tensor, Tensor, Params&gt;&gt; step = (p, x, y) =&gt; sgd.Invoke(p, lossGrad.Invoke(p, x, y));
/// </code>
/// </summary>
public static class Optim
{
    /// <summary>
    /// Stochastic gradient descent, <c>p ← p − lr · g</c> for every tensor leaf. Static leaves come from the parameters.
    /// Example: <c>Optim.Sgd&lt;Params&gt;(0.5).Compile()(p, g)</c>.
    /// </summary>
    /// <typeparam name="T">The parameters' pytree type (tensor leaves).</typeparam>
    /// <param name="learningRate">The step size lr.</param>
    /// <returns><c>(p, g) =&gt; p − lr g</c> as an expression.</returns>
    public static Expression<Func<T, T, T>> Sgd<T>(double learningRate)
    {
        if (!double.IsFinite(learningRate)) throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, $"Optim.Sgd: the learning rate must be a finite number, not {learningRate}.");
        var p = Expression.Parameter(typeof(T), "p");
        var g = Expression.Parameter(typeof(T), "g");
        var body = MapLeaves(typeof(T), [p, g], l => Expression.Subtract(l[0], Expression.Multiply(Expression.Constant(learningRate), l[1])));
        return Expression.Lambda<Func<T, T, T>>(body, p, g);
    }

    /// <summary>
    /// Adam (Kingma and Ba, 2015, Algorithm 1): with t the step number (from 1),
    /// <c>m ← β₁m + (1−β₁)g</c>, <c>v ← β₂v + (1−β₂)g²</c>, <c>p ← p − lr · (m / (1−β₁ᵗ)) / (√(v / (1−β₂ᵗ)) + ε)</c>.
    /// Start from <see cref="AdamInit{T}"/>. Example: <c>var (p2, s2) = Optim.Adam&lt;Params&gt;(1e-2).Compile()(p, g, s);</c>
    /// </summary>
    /// <typeparam name="T">The parameters' pytree type (tensor leaves).</typeparam>
    /// <param name="learningRate">lr.</param>
    /// <param name="beta1">β₁, the decay of the first moment.</param>
    /// <param name="beta2">β₂, the decay of the second moment.</param>
    /// <param name="epsilon">ε, added to the denominator.</param>
    /// <returns><c>(p, g, state) =&gt; (p', state')</c> as an expression.</returns>
    public static Expression<Func<T, T, AdamState<T>, (T Params, AdamState<T> State)>> Adam<T>(
        double learningRate = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double epsilon = 1e-8)
    {
        if (!double.IsFinite(learningRate)) throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, $"Optim.Adam: the learning rate must be a finite number, not {learningRate}.");
        if (!(beta1 >= 0 && beta1 < 1)) throw new ArgumentOutOfRangeException(nameof(beta1), beta1, $"Optim.Adam: beta1 must lie in [0, 1) (0.9 is usual), not {beta1}.");
        if (!(beta2 >= 0 && beta2 < 1)) throw new ArgumentOutOfRangeException(nameof(beta2), beta2, $"Optim.Adam: beta2 must lie in [0, 1) (0.999 is usual), not {beta2}.");
        if (!(epsilon >= 0) || double.IsInfinity(epsilon)) throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, $"Optim.Adam: epsilon must be a finite number 0 or more (1e-8 is usual), not {epsilon}.");
        var p = Expression.Parameter(typeof(T), "p");
        var g = Expression.Parameter(typeof(T), "g");
        var s = Expression.Parameter(typeof(AdamState<T>), "state");
        var m = Expression.Property(s, nameof(AdamState<T>.M));
        var v = Expression.Property(s, nameof(AdamState<T>.V));
        var t = Expression.Add(Expression.Property(s, nameof(AdamState<T>.Step)), Expression.Constant(1.0));
        var pow = typeof(Np).GetMethod(nameof(Np.Pow), [typeof(Tensor), typeof(Tensor)])!;
        var sqrt = typeof(Np).GetMethod(nameof(Np.Sqrt), [typeof(Tensor)])!;
        Expression C(double x) => Expression.Constant(x);
        Expression Lin(double a, Expression x, double b, Expression y) => Expression.Add(Expression.Multiply(C(a), x), Expression.Multiply(C(b), y));
        // bias corrections 1 - β^t, shared by every leaf
        var c1 = Expression.Subtract(C(1), Expression.Call(pow, Expression.Convert(C(beta1), typeof(Tensor)), t));
        var c2 = Expression.Subtract(C(1), Expression.Call(pow, Expression.Convert(C(beta2), typeof(Tensor)), t));
        var mNew = MapLeaves(typeof(T), [m, g], l => Lin(beta1, l[0], 1 - beta1, l[1]));
        var vNew = MapLeaves(typeof(T), [v, g], l => Lin(beta2, l[0], 1 - beta2, Expression.Multiply(l[1], l[1])));
        var pNew = MapLeaves(typeof(T), [p, m, v, g], l =>
        {
            var mt = Lin(beta1, l[1], 1 - beta1, l[3]);
            var vt = Lin(beta2, l[2], 1 - beta2, Expression.Multiply(l[3], l[3]));
            var step = Expression.Divide(Expression.Divide(mt, c1), Expression.Add(Expression.Call(sqrt, Expression.Divide(vt, c2)), C(epsilon)));
            return Expression.Subtract(l[0], Expression.Multiply(C(learningRate), step));
        });
        var state = Expression.New(typeof(AdamState<T>).GetConstructor([typeof(T), typeof(T), typeof(Tensor)])!, mNew, vNew, t);
        var tuple = typeof(ValueTuple<T, AdamState<T>>).GetConstructor([typeof(T), typeof(AdamState<T>)])!;
        return Expression.Lambda<Func<T, T, AdamState<T>, (T, AdamState<T>)>>(Expression.New(tuple, pNew, state), p, g, s);
    }

    /// <summary>The initial Adam state: zero moments shaped like <paramref name="parameters"/> (in host memory) and step 0.</summary>
    /// <typeparam name="T">The parameters' pytree type.</typeparam>
    /// <param name="parameters">The parameters.</param>
    /// <returns>The state.</returns>
    public static AdamState<T> AdamInit<T>(T parameters)
    {
        var zeros = Tree.Map(x => Lax.Zeros(x.Aval.WithDType(x.DType)), parameters);
        var dtype = Tree.Leaves(parameters).FirstOrDefault()?.DType ?? DType.Float32;
        return new AdamState<T>(zeros, zeros, Tensor.Scalar(0, dtype));
    }

    /// <summary>Builds a value of <paramref name="type"/> whose tensor leaves are <paramref name="leaf"/> of the matching leaves of <paramref name="roots"/>.</summary>
    static Expression MapLeaves(Type type, Expression[] roots, Func<Expression[], Expression> leaf)
    {
        var def = TreeDef.Of(type);
        var access = roots.Select(r => { var l = new List<Expression>(); def.LeafAccess(r, l); return l; }).ToArray();
        var info = def.LeafInfo("").ToArray();
        var leaves = new List<Expression>();
        for (int i = 0; i < info.Length; i++)
        {
            if (info[i].Kind == Kind.Static) { leaves.Add(access[0][i]); continue; }
            if (info[i].Type != typeof(Tensor))
                throw new PytreeException($"Optim updates Tensor leaves; {Printer.TypeName(type)}{info[i].Path} is a {Printer.TypeName(info[i].Type)}. Make it a Tensor (Tensor.Scalar(x, DType.Float64)).");
            leaves.Add(leaf(access.Select(a => a[i]).ToArray()));
        }
        int pos = 0;
        return def.Construct(leaves, ref pos);
    }
}
