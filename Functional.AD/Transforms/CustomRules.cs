using System.Linq.Expressions;
using System.Reflection;

namespace Functional.AD;

/// <summary>A user function with its own derivative rule (see <c>Ad.CustomJvp</c>, <c>Ad.CustomVjp</c>).</summary>
/// <example><code>
/// Expression&lt;Func&lt;Tensor, Tensor&gt;&gt; f = x =&gt; Np.Log(1 + Np.Exp(x));
/// var safe = Ad.CustomJvp(f, (x, xDot) =&gt; xDot * Np.Sigmoid(x));   // Ad.Grad(safe) uses the rule
/// </code></example>
public sealed class CustomRule
{
    internal readonly LambdaExpression Primal;
    internal readonly LambdaExpression? JvpRule;
    internal readonly LambdaExpression? VjpRule;
    readonly Lazy<Delegate> compiled;

    internal CustomRule(LambdaExpression primal, LambdaExpression? jvp, LambdaExpression? vjp)
    {
        Primal = primal; JvpRule = jvp; VjpRule = vjp;
        compiled = new(() => primal.Compile());
    }

    /// <summary>Runs the primal eagerly (what the returned expression does when compiled directly).</summary>
    public static TResult Call<T1, TResult>(CustomRule rule, T1 x) => ((Func<T1, TResult>)rule.compiled.Value)(x);

    /// <inheritdoc/>
    public override string ToString() => JvpRule is not null ? "CustomJvp" : "CustomVjp";

    internal static readonly MethodInfo CallMethod = typeof(CustomRule).GetMethod(nameof(Call))!;
}

/// <summary>How custom rules are read into the graph and differentiated.</summary>
internal static class CustomRules
{
    /// <summary>Reads <c>CustomRule.Call(rule, x)</c>: a node per output leaf holding the primal as a sub-graph.</summary>
    public static Node Read(Builder b, CustomRule rule, Node[] args)
    {
        var primal = Reader.Read(rule.Primal);
        if (primal.Graph.Outputs.Length != 1 || !primal.Graph.Outputs[0].Kind.IsFloating())
            throw new UnsupportedExpressionException($"A custom rule's function must return one Tensor, double or float; `{Printer.Expr(rule.Primal)}` returns {Printer.TypeName(rule.Primal.ReturnType)}.", Printer.Expr(rule.Primal));
        return b.Apply(Prims.Custom, args, new Params(rule), [primal.Graph]);
    }

    static readonly System.Runtime.CompilerServices.ConditionalWeakTable<CustomRule, CustomRule> batchedRules = new();

    /// <summary>
    /// The same rule for a batch: the primal and the rule itself are vmapped over a leading axis (JAX batches
    /// custom rules the same way), so per-example rules stay per-example. Tensor-to-Tensor functions only.
    /// </summary>
    public static CustomRule? Batched(CustomRule rule)
    {
        if (rule.Primal.Parameters.Count != 1 || rule.Primal.Parameters[0].Type != typeof(Tensor) || rule.Primal.ReturnType != typeof(Tensor)) return null;
        return batchedRules.GetValue(rule, r =>
        {
            var unary = typeof(Func<Tensor, Tensor>);
            var binary = typeof(Func<Tensor, Tensor, Tensor>);
            var primal = Ad.VmapCore(r.Primal, unary, [0], [0], null);
            var jvp = r.JvpRule is null ? null : Ad.VmapCore(r.JvpRule, binary, [0, 0], [0], null);
            var vjp = r.VjpRule is null ? null : Ad.VmapCore(r.VjpRule, binary, [0, 0], [0], null);
            return new CustomRule(primal, jvp, vjp);
        });
    }

    /// <summary>
    /// Vmap's rule: a Tensor-to-Tensor function with a custom rule is read again with its rule vmapped (see
    /// <see cref="Batched"/>); any other cannot be batched.
    /// </summary>
    static Node Batch(Builder b, Node n, Node[] args, HashSet<Node> batched)
    {
        if (n.Batch != 0 || args.Length != 1 || args[0].Kind != Kind.Tensor || Batched(n.Params.Get<CustomRule>(0)) is not { } rule) throw NotBatchable(n);
        var r = Read(b, rule, [args[0]]);
        r.Source ??= n.Source;
        batched.Add(r);
        return r;
    }

    static VmapException NotBatchable(Node n) =>
        new($"Ad.Vmap: `{(n.Source is { } src ? Printer.Expr(src) : n.Params[0])}` has a custom derivative rule (Ad.CustomJvp / Ad.CustomVjp), and only custom rules of Tensor-to-Tensor functions can be batched (the rule is vmapped with the function); wrap a pytree-taking rule in a Tensor-to-Tensor function, or call it in a loop.");

    public static void Install(Primitive custom, Primitive vjpTangent, Primitive checkAval)
    {
        custom.Foldable = false;
        custom.KindRule = (_, _, subs) => subs[0].Outputs[0].Kind;
        custom.EmitRule = (a, _, _, subs) => Writer.InlineBlock(subs[0], a);
        custom.FormatRule = (a, _, p) => $"{p[0]}({string.Join(", ", a)})";
        // printed as its function's body in a block (the rule changes derivatives, not values)
        custom.BlockHeads = _ => ["// a function with a custom derivative rule"];
        custom.AvalRule = (n, a) => ShapeInference.Run(n.Subgraphs[0], a)[n.Subgraphs[0].Outputs[0]];
        custom.VmapRule = Batch;
        custom.Jvp = (c, t) =>
        {
            var rule = c.P.Get<CustomRule>(0);
            if (rule.JvpRule is { } jvpRule)
            {
                // the user's rule, inlined: (x, ẋ) -> ẏ, zeros standing for symbolic-zero tangents
                var g = Reader.Read(jvpRule).Graph;
                var ts = c.X.Select((x, i) => t[i]?.N ?? Jvp.Zero(c.B, x.N)).ToArray();
                var tangent = c.B.Inline(g, [.. c.X.Select(x => x.N), .. ts])[0];
                return new V(c.B.Apply(checkAval, [tangent, R.AvalOf(c.Ans!).N], new Params($"the custom JVP rule `{Printer.Expr(jvpRule)}`")));
            }
            // reverse-only rule: a linear node whose transpose is the user's VJP
            return new V(c.B.Apply(vjpTangent, [.. c.X.Select(x => x.N), .. c.X.Select((x, i) => t[i]?.N ?? Jvp.Zero(c.B, x.N))], new Params(rule, c.X.Length)));
        };

        vjpTangent.Foldable = false;
        vjpTangent.KindRule = (_, p, _) => Kind.Tensor;
        vjpTangent.EmitRule = (_, _, p, _) => throw new NotDifferentiableException(
            $"Forward mode (Jvp, Jacfwd, or Grad of a scalar function) through a function with only a custom VJP rule is not supported: give `{Printer.Expr(((CustomRule)p[0]!).Primal)}` a CustomJvp rule instead.");
        vjpTangent.Transpose = (c, ct) =>
        {
            var rule = c.P.Get<CustomRule>(0);
            int n = c.P.Get<int>(1);
            var g = Reader.Read(rule.VjpRule!).Graph;
            var xbar = c.B.Inline(g, [.. c.X.Take(n).Select(x => x.N), ct.N]);
            var result = new V?[c.X.Length];
            for (int i = 0; i < n; i++)
                if (c.Linear[n + i])
                    result[n + i] = xbar[i].Kind == Kind.Tensor
                        ? new V(c.B.Apply(checkAval, [xbar[i], R.AvalOf(c.X[i]).N], new Params($"the custom VJP rule `{Printer.Expr(rule.VjpRule!)}`")))
                        : new V(xbar[i]);
            return result;
        };
        vjpTangent.KindRule = (k, p, _) => k[0];
        vjpTangent.VmapRule = (_, n, _, _) => throw NotBatchable(n);

        // identity on its first operand, checking its shape against an aval: guards user-written rules
        checkAval.NonDiff = [1];
        checkAval.RunsUnread = true;
        checkAval.KindRule = (k, _, _) => k[0];
        checkAval.EmitRule = (a, k, p, _) => k[0] == Kind.Tensor
            ? Expression.Call(typeof(CustomRules).GetMethod(nameof(Check), BindingFlags.Static | BindingFlags.NonPublic)!, a[0], a[1], Expression.Constant((string)p[0]!))
            : a[0];
        checkAval.FormatRule = (a, _, _) => a[0];
        checkAval.Jvp = (c, t) => new V(c.B.Apply(checkAval, [t[0]!.N, c.X[1].N], c.P));
        checkAval.Transpose = (c, ct) => [new V(c.B.Apply(checkAval, [ct.N, c.Aval(0).N], c.P)), null];
    }

    static Tensor Check(Tensor t, Aval expected, string rule)
    {
        if (!t.Shape.SequenceEqual(expected.Shape))
            throw new ShapeException($"{rule}", [t.Aval, expected],
                $"the shapes {t.Aval} and {expected} differ: a custom rule must return a tangent (or cotangent) with the shape of its primal value");
        return t;
    }
}

public static partial class Ad
{
    /// <summary>
    /// <paramref name="f"/> with a custom forward rule <c>(x, ẋ) ↦ ẏ</c> (JAX's <c>custom_jvp</c>), used by every
    /// transformation instead of differentiating <paramref name="f"/>'s body (for numerical stability, or a known
    /// closed form). The rule must be linear in ẋ; it is differentiated itself for higher orders.
    /// </summary>
    /// <example><code>
    /// // log(1 + exp(x)) with a stable derivative
    /// var softplus = Ad.CustomJvp&lt;Tensor, Tensor&gt;(x =&gt; Np.Log(1 + Np.Exp(x)), (x, dx) =&gt; dx * Np.Sigmoid(x));
    /// </code></example>
    public static Expression<Func<T1, TResult>> CustomJvp<T1, TResult>(Expression<Func<T1, TResult>> f, Expression<Func<T1, T1, TResult>> jvp) =>
        Wrap(f, new CustomRule(f, jvp, null));

    /// <summary>
    /// <paramref name="f"/> with a custom reverse rule <c>(x, ȳ) ↦ x̄</c> (JAX's <c>custom_vjp</c>): reverse mode uses it
    /// instead of differentiating <paramref name="f"/>'s body (gradient clipping, straight-through estimators, implicit
    /// functions). Forward mode through such a function is an error naming it.
    /// </summary>
    public static Expression<Func<T1, TResult>> CustomVjp<T1, TResult>(Expression<Func<T1, TResult>> f, Expression<Func<T1, TResult, T1>> vjp) =>
        Wrap(f, new CustomRule(f, null, vjp));

    static Expression<Func<T1, TResult>> Wrap<T1, TResult>(Expression<Func<T1, TResult>> f, CustomRule rule)
    {
        var x = Expression.Parameter(typeof(T1), f.Parameters[0].Name);
        return Expression.Lambda<Func<T1, TResult>>(
            Expression.Call(CustomRule.CallMethod.MakeGenericMethod(typeof(T1), typeof(TResult)), Expression.Constant(rule), x), x);
    }
}
