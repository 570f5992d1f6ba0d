using TorchSharp;
using Xunit;
using Xunit.Abstractions;

namespace Functional.AD.Torch.Properties;

/// <summary>
/// Digamma, Polygamma and Lgamma in float64 against reference values computed with mpmath at 30 digits (independent of
/// both libraries): this library's kernels are accurate to a few units in the last place; libtorch's are checked to the
/// bound <see cref="TorchOracles.GammaFamilyTolerance"/> that the TorchSharp-autograd oracle uses for programs holding
/// these functions (libtorch computes them by series with fewer terms, so they are less accurate).
/// </summary>
public class GammaFamilyAccuracyTests(ITestOutputHelper output)
{
    /// <summary>x, digamma, trigamma, polygamma(2), polygamma(3), log |gamma| (mpmath, 30 digits, rounded to 20).</summary>
    static readonly (double X, double Psi0, double Psi1, double Psi2, double Psi3, double LogGamma)[] Reference =
    [
        (1.0417, -0.51063669014272103595, 1.5500425399547088614, -2.1535648193149706845, 5.5541485356485077484, -0.022667975050953728479),
        (1.3, -0.16919088886679960526, 1.1342534349966193011, -1.1984625146519564861, 2.401023914308926311, -0.10817480950786047846),
        (2.0, 0.42278433509846713939, 0.64493406684822643647, -0.4041138063191885708, 0.4939394022668291491, 0.0),
        (2.7, 0.79678316899114109494, 0.44721206891832360647, -0.19700583557913573369, 0.17117980334609882915, 0.43482055365510467324),
        (3.3, 1.0348224890596216863, 0.35350154184106183225, -0.12375118526494272562, 0.085849667336884940482, 0.98709857789473440406),
        (4.9, 1.4837377932548969721, 0.22631146419168000636, -0.051004931569078569976, 0.02289774856274278572, 3.0285569003773410597),
        (6.5, 1.7929113303999329419, 0.16628453574995823764, -0.027587910706876798794, 0.0091336635043781405048, 5.6625620598571415285),
        (8.0, 2.0156414779556099965, 0.13313701469403142513, -0.017699569195767773909, 0.004699239795945103868, 8.5251613610654143002),
        (1.001, -0.57557193181030065237, 1.642533195868978297, -2.397632289733331298, 6.4691140559357168532, -0.00057639359828330615152),
        (9.5, 2.1977378764029495332, 0.11099728846909903237, -0.012307845807709337531, 0.0027267288350372494836, 11.689333420797268483),
        (0.3, -3.5025242222001331249, 12.245364546107731301, -75.272536588726038917, 743.14176465504977709, 1.0957979948180755606),
        (0.05, -20.497844991299869257, 401.53235734211507489, -16002.108158021942769, 960005.38832231298212, 2.9688792010517307685),
        (15.0, 2.6743466616607937017, 0.068938227847683806226, -0.0047506027165515547468, 0.00065447977828273734842, 25.1912211827386815),
        (-0.5, 0.036489973978576520559, 8.9348022005446793094, -0.8287966442343199956, 193.40909103400243724, 1.2655121234846453965),
    ];

    static double Rel(double a, double r) => Math.Abs(a - r) / Math.Max(Math.Abs(r), 1e-300);

    [Fact]
    public void Ours_are_accurate_and_libtorchs_are_within_the_oracles_bound()
    {
        double oursWorst = 0, torchWorst = 0;
        foreach (var (x, psi0, psi1, psi2, psi3, lg) in Reference)
        {
            var t = new Tensor(new[] { x });
            var expected = new[] { psi0, psi1, psi2, psi3, lg };
            var ours = new[]
            {
                Np.Digamma(t).ToDoubleArray()[0],
                Np.Polygamma(Tensor.Scalar(1.0, DType.Float64), t).ToDoubleArray()[0],
                Np.Polygamma(Tensor.Scalar(2.0, DType.Float64), t).ToDoubleArray()[0],
                Np.Polygamma(Tensor.Scalar(3.0, DType.Float64), t).ToDoubleArray()[0],
                Np.Lgamma(t).ToDoubleArray()[0],
            };
            using var tt = torch.tensor(new[] { x }, torch.float64);
            var theirs = new[]
            {
                torch.digamma(tt).item<double>(), torch.polygamma(tt, 1).item<double>(), torch.polygamma(tt, 2).item<double>(),
                torch.polygamma(tt, 3).item<double>(), torch.lgamma(tt).item<double>(),
            };
            for (int k = 0; k < 5; k++)
            {
                oursWorst = Math.Max(oursWorst, Rel(ours[k], expected[k]));
                torchWorst = Math.Max(torchWorst, Rel(theirs[k], expected[k]));
                Assert.True(Rel(ours[k], expected[k]) <= 1e-13, $"function {k} at {x}: ours {ours[k]:R}, mpmath {expected[k]:R}");
                Assert.True(Rel(theirs[k], expected[k]) <= TorchOracles.GammaFamilyTolerance, $"function {k} at {x}: libtorch {theirs[k]:R}, mpmath {expected[k]:R}");
            }
        }
        output.WriteLine($"worst relative error against mpmath: ours {oursWorst:G3}, libtorch {torchWorst:G3}");
    }
}
