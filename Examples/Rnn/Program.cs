// A small recurrent network trained with Np.Scan to predict the next value of a noisy sine wave.
// Run: dotnet run --project Examples/Rnn -c Release
// The recurrence is one Np.Scan: its body is a lambda, read once as a sub-graph; Ad.Grad differentiates through
// the loop (reverse mode keeps one hidden state per step) and Ad.Jit runs it as a real loop, not unrolled.
using System.Linq.Expressions;
using Functional.AD;
using static Functional.AD.Np;

const int Hidden = 8, Steps = 60, Epochs = 400;
const double LearningRate = 0.05;

// the series: s_t = sin(0.3 t) + noise; the input at step t is s_t, the target s_{t+1}
var rng = new Random(1);
var series = Enumerable.Range(0, Steps + 1).Select(t => Math.Sin(0.3 * t) + 0.05 * Gaussian(rng)).ToArray();
var xs = Tensor.FromArray(Enumerable.Range(0, Steps).Select(t => new[] { series[t] }).ToArray().To2D(), DType.Float64);   // [Steps, 1]
var targets = Tensor.FromArray(series.Skip(1).ToArray(), DType.Float64);                                                     // [Steps]

// h' = tanh(Wx x + Wh h + b), y = Wo . h' + bo; the loss is the mean squared error of the one-step predictions
Expression<Func<Rnn, Tensor, Tensor, Tensor>> loss = (p, x, y) =>
    Let(Scan(x, p.B * 0, (Tensor h, Tensor xt) => Let(Tanh(Dot(p.Wx, xt) + Dot(p.Wh, h) + p.B), h2 => Tuple(h2, Dot(p.Wo, h2) + p.Bo))).Item2,
        pred => Sum((pred - y) * (pred - y)) / Steps);

var lossFn = Ad.Jit(loss);
var gradFn = Ad.Jit(loss.Grad());

var template = new Rnn(Zeros([Hidden, 1], DType.Float64), Zeros([Hidden, Hidden], DType.Float64), Zeros([Hidden], DType.Float64), Zeros([Hidden], DType.Float64), Zeros([], DType.Float64));
var p = Tree.Normal(PrngKey.Create(0), template, 0.3);

// the gradient through the loop against float64 central differences, on one weight
{
    var g = gradFn(p, xs, targets).Wh.ToDoubleArray()[3];
    double eps = 1e-6;
    var bump = new double[Hidden * Hidden]; bump[3] = eps;
    var d = Reshape(Tensor.FromArray(bump, DType.Float64), [Hidden, Hidden]);
    double num = ((double)lossFn(p with { Wh = p.Wh + d }, xs, targets) - (double)lossFn(p with { Wh = p.Wh - d }, xs, targets)) / (2 * eps);
    Console.WriteLine($"dLoss/dWh[0,3]: through the loop {g:E6}, central differences {num:E6}");
    if (Math.Abs(g - num) > 1e-6 * Math.Max(1, Math.Abs(num))) { Console.WriteLine("gradient check failed"); return 1; }
}

// plain gradient descent with momentum
double first = (double)lossFn(p, xs, targets), last = first;
var velocity = Tree.Map(t => t * 0, p);
for (int epoch = 0; epoch <= Epochs; epoch++)
{
    if (epoch % 50 == 0)
    {
        last = (double)lossFn(p, xs, targets);
        Console.WriteLine($"epoch {epoch,4}: loss {last:F5}");
    }
    var grad = gradFn(p, xs, targets);
    velocity = Tree.Map((v, g) => 0.9 * v - LearningRate * g, velocity, grad);
    p = Tree.Map((w, v) => w + v, p, velocity);
}
// predicting "the next value equals this one" is the baseline a working model must beat
double naive = Enumerable.Range(0, Steps).Average(t => (series[t + 1] - series[t]) * (series[t + 1] - series[t]));
Console.WriteLine($"loss {first:F5} -> {last:F5}; repeating the last value scores {naive:F5}");
bool ok = last < 0.1 * first && last < naive;
Console.WriteLine(ok ? "The loss went down and the RNN beats repeating the last value." : "The RNN did not learn.");
return ok ? 0 : 1;

static double Gaussian(Random r) => Math.Sqrt(-2 * Math.Log(1 - r.NextDouble())) * Math.Cos(2 * Math.PI * r.NextDouble());

/// <summary>The RNN's parameters: a pytree, differentiated as one argument.</summary>
record Rnn(Tensor Wx, Tensor Wh, Tensor B, Tensor Wo, Tensor Bo);

static class ArrayExtensions
{
    public static double[,] To2D(this double[][] rows)
    {
        var a = new double[rows.Length, rows[0].Length];
        for (int i = 0; i < rows.Length; i++) for (int j = 0; j < rows[0].Length; j++) a[i, j] = rows[i][j];
        return a;
    }
}
