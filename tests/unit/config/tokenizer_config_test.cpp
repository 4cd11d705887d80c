// The `tokenizer:` section and each model's `encoding:` key of the gateway file.

#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <variant>

#include <gtest/gtest.h>
#include <unistd.h>

#include "../support/config_results.h"
#include "../support/encodings.h"
#include "costgate/config/load.h"

namespace costgate::config {
namespace {

using tokenizer::SplitRule;

constexpr char kFile[] = "test.yaml";

LoadResult load(const std::string& yaml) {
  return parse(yaml, kFile,
               [](const std::string&) -> std::optional<std::string> { return std::nullopt; });
}

GatewayConfig parseOk(const std::string& yaml) { return test_data::configOk(load, yaml); }

ConfigError parseError(const std::string& yaml) { return test_data::configError(load, yaml); }

// The rank files the setup fetched; the YAML names them so that a build's default directory does
// not matter.
const std::string kDataDir = test_data::tokenizerDataDir();

// Line 1 is `backends:`, so a test's `models:` block starts on line 4 and its lines can be
// counted from there.
std::string gateway(const std::string& models, const std::string& tokenizer = "",
                    const std::string& data_dir = kDataDir) {
  return "backends:\n  mock:\n    url: http://127.0.0.1:8081/v1\n" + models +
         "tokenizer:\n  data_dir: " + data_dir + "\n" + tokenizer;
}

// A name in the temporary directory no other test process uses at the same time.
std::filesystem::path tempPath(const std::string& name) {
  return std::filesystem::temp_directory_path() / (std::to_string(getpid()) + "-" + name);
}

// A file that exists for the duration of one test.
class TempFile {
 public:
  TempFile(const std::string& name, const std::string& contents) : path_(tempPath(name)) {
    std::ofstream(path_) << contents;
  }
  ~TempFile() { std::filesystem::remove(path_); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

// An encoding loaded from the real file counts like the reference one (same ranks, same split).
void expectCountsLike(const tokenizer::Encoding& encoding, SplitRule rule) {
  const tokenizer::Encoding& reference = test_data::testEncoding(rule);
  for (const char* text : {"hello world", "  indented\n\tcode();", "日本語 🌍 ’quotes’"}) {
    EXPECT_EQ(encoding.encode(text), reference.encode(text)) << text;
  }
}

TEST(TokenizerConfig, ModelsGetOpenAIsEncodingByName) {
  const GatewayConfig config = parseOk(gateway(R"(models:
  gpt-4o:
    backend: mock
  gpt-4:
    backend: mock
  gpt-3.5-turbo:
    backend: mock
  o3-mini:
    backend: mock
  text-embedding-3-small:
    backend: mock
)"));
  struct Expected {
    const char* model;
    const char* encoding;
    SplitRule rule;
  };
  for (const Expected& expected :
       {Expected{"gpt-4o", "o200k_base", SplitRule::kO200k},
        Expected{"gpt-4", "cl100k_base", SplitRule::kCl100k},
        Expected{"gpt-3.5-turbo", "cl100k_base", SplitRule::kCl100k},
        Expected{"o3-mini", "o200k_base", SplitRule::kO200k},
        Expected{"text-embedding-3-small", "cl100k_base", SplitRule::kCl100k}}) {
    SCOPED_TRACE(expected.model);
    const ModelRoute& route = config.models.at(expected.model);
    ASSERT_NE(route.encoding, nullptr);
    EXPECT_EQ(route.encoding->name(), expected.encoding);
    EXPECT_EQ(route.encoding->rule(), expected.rule);
  }
  expectCountsLike(*config.models.at("gpt-4o").encoding, SplitRule::kO200k);
  expectCountsLike(*config.models.at("gpt-4").encoding, SplitRule::kCl100k);
  EXPECT_EQ(config.models.at("gpt-4").encoding, config.models.at("gpt-3.5-turbo").encoding)
      << "one encoding is loaded once and shared";
}

// The backend decides how text is tokenized, so the name the backend is sent is what counts.
TEST(TokenizerConfig, TheBackendModelNameChoosesTheEncoding) {
  const GatewayConfig config = parseOk(gateway(R"(models:
  cheap:
    backend: mock
    backend_model: gpt-4o-mini
  legacy:
    backend: mock
    backend_model: gpt-4-0613
)"));
  EXPECT_EQ(config.models.at("cheap").encoding->name(), "o200k_base");
  EXPECT_EQ(config.models.at("legacy").encoding->name(), "cl100k_base");
}

TEST(TokenizerConfig, OtherModelsGetTheDefaultEncoding) {
  const std::string models = R"(models:
  llama-3-70b:
    backend: mock
  gpt-4o:
    backend: mock
)";
  const GatewayConfig by_default = parseOk(gateway(models));
  EXPECT_EQ(by_default.tokenizer.default_encoding, "o200k_base");
  EXPECT_EQ(by_default.models.at("llama-3-70b").encoding->name(), "o200k_base");

  const GatewayConfig cl100k = parseOk(gateway(models, "  default_encoding: cl100k_base\n"));
  EXPECT_EQ(cl100k.models.at("llama-3-70b").encoding->name(), "cl100k_base");
  EXPECT_EQ(cl100k.models.at("gpt-4o").encoding->name(), "o200k_base")
      << "the default is only for names that are not OpenAI's";

  const GatewayConfig none = parseOk(gateway(models, "  default_encoding: none\n"));
  EXPECT_EQ(none.models.at("llama-3-70b").encoding, nullptr);
  EXPECT_NE(none.models.at("gpt-4o").encoding, nullptr);
}

TEST(TokenizerConfig, EncodingKeyOverridesAndNoneCountsNothing) {
  const GatewayConfig config = parseOk(gateway(R"(models:
  gpt-4o:
    backend: mock
    encoding: none
  mistral-large:
    backend: mock
    encoding: cl100k_base
  gpt-4:
    backend: mock
    encoding: o200k_base
)"));
  EXPECT_EQ(config.models.at("gpt-4o").encoding, nullptr);
  EXPECT_EQ(config.models.at("mistral-large").encoding->name(), "cl100k_base");
  EXPECT_EQ(config.models.at("gpt-4").encoding->name(), "o200k_base");
}

TEST(TokenizerConfig, WithoutATokenizerSectionTheBuildsDataDirIsUsed) {
  LoadResult result = load(R"(backends:
  mock:
    url: http://127.0.0.1:8081/v1
models:
  gpt-4o:
    backend: mock
    encoding: none
)");
  ASSERT_TRUE(std::holds_alternative<GatewayConfig>(result));
  const GatewayConfig& config = std::get<GatewayConfig>(result);
  EXPECT_FALSE(config.tokenizer.data_dir.empty());
  EXPECT_EQ(config.tokenizer.default_encoding, "o200k_base");
  EXPECT_TRUE(config.tokenizer.encodings.empty());
}

TEST(TokenizerConfig, UnknownEncodingIsAnErrorAtTheKeyListingTheKnownOnes) {
  const ConfigError error = parseError(
      gateway(R"(models:
  gpt-4o:
    backend: mock
    encoding: p50k_base
)",
              "  encodings:\n    corp_v1:\n      file: " + kDataDir + "/cl100k_base.tiktoken\n"));
  EXPECT_EQ(error.where.file, kFile);
  EXPECT_EQ(error.where.line, 7);
  EXPECT_EQ(error.where.column, 15);
  EXPECT_NE(error.message.find("models.gpt-4o.encoding"), std::string::npos) << error.describe();
  EXPECT_NE(error.message.find("'p50k_base'"), std::string::npos) << error.describe();
  EXPECT_NE(error.message.find("cl100k_base, o200k_base, corp_v1, none"), std::string::npos)
      << error.describe();
}

// Reported where it is written, whether or not some model falls back to it.
TEST(TokenizerConfig, UnknownDefaultEncodingIsAnErrorAtItsKey) {
  for (const char* model : {"gpt-4o", "llama-3"}) {
    SCOPED_TRACE(model);
    const ConfigError error =
        parseError(gateway(std::string("models:\n  ") + model + ":\n    backend: mock\n",
                           "  default_encoding: o200k\n"));
    EXPECT_EQ(error.where.line, 9);
    EXPECT_EQ(error.where.column, 21);
    EXPECT_NE(error.message.find("tokenizer.default_encoding"), std::string::npos)
        << error.describe();
    EXPECT_NE(error.message.find("known: cl100k_base, o200k_base, none"), std::string::npos)
        << error.describe();
  }
}

TEST(TokenizerConfig, ADataDirWithoutTheFilesIsAnErrorNamingTheFile) {
  const std::filesystem::path empty_dir = tempPath("costgate-no-rank-files");
  std::filesystem::create_directories(empty_dir);
  const std::string models = "models:\n  gpt-4:\n    backend: mock\n";
  const ConfigError error = parseError(gateway(models, "", empty_dir.string()));
  EXPECT_EQ(error.where.line, 5) << "at the model that needs the file: " << error.describe();
  EXPECT_NE(error.message.find((empty_dir / "cl100k_base.tiktoken").string()), std::string::npos)
      << error.describe();
  EXPECT_NE(error.message.find("models.gpt-4"), std::string::npos) << error.describe();

  // A model that counts nothing needs no file.
  const GatewayConfig config =
      parseOk(gateway(models + "    encoding: none\n", "", empty_dir.string()));
  EXPECT_EQ(config.models.at("gpt-4").encoding, nullptr);
  std::filesystem::remove(empty_dir);
}

TEST(TokenizerConfig, CustomEncodingsReadTheirFileWithTheSplitOfABuiltInOne) {
  const GatewayConfig config = parseOk(gateway(R"(models:
  corp-llm:
    backend: mock
    encoding: corp_v1
  other-llm:
    backend: mock
)",
                                               "  default_encoding: corp_v2\n"
                                               "  encodings:\n"
                                               "    corp_v1:\n"
                                               "      file: " +
                                                   kDataDir +
                                                   "/cl100k_base.tiktoken\n"
                                                   "      split: cl100k_base\n"
                                                   "    corp_v2:\n"
                                                   "      file: " +
                                                   kDataDir + "/o200k_base.tiktoken\n"));
  ASSERT_EQ(config.tokenizer.encodings.size(), 2u);
  const TokenizerConfig::Custom& v1 = config.tokenizer.encodings.at("corp_v1");
  EXPECT_EQ(v1.file, kDataDir + "/cl100k_base.tiktoken");
  EXPECT_EQ(v1.rule, SplitRule::kCl100k);
  EXPECT_EQ(v1.mark.line, 14);
  EXPECT_EQ(config.tokenizer.encodings.at("corp_v2").rule, SplitRule::kO200k)
      << "o200k_base's split unless told";

  const ModelRoute& corp = config.models.at("corp-llm");
  ASSERT_NE(corp.encoding, nullptr);
  EXPECT_EQ(corp.encoding->rule(), SplitRule::kCl100k);
  expectCountsLike(*corp.encoding, SplitRule::kCl100k);
  const ModelRoute& other = config.models.at("other-llm");
  ASSERT_NE(other.encoding, nullptr) << "the default may name a custom encoding";
  expectCountsLike(*other.encoding, SplitRule::kO200k);
}

TEST(TokenizerConfig, CustomEncodingErrorsPointAtTheProblem) {
  const std::string models = "models:\n  m:\n    backend: mock\n    encoding: none\n";
  struct Case {
    std::string tokenizer;
    int line;
    int column;
    const char* says;
  };
  const Case cases[] = {
      {"  encodings:\n    corp:\n      split: cl100k_base\n", 11, 5, "file"},
      {"  encodings:\n    corp:\n      file: /nonexistent/corp.tiktoken\n", 12, 13,
       "/nonexistent/corp.tiktoken"},
      {"  encodings:\n    corp:\n      file: " + kDataDir +
           "/o200k_base.tiktoken\n      split: p50k_base\n",
       13, 14, "split"},
      {"  encodings:\n    corp:\n      path: x\n", 12, 7, "path"},
      {"  encoding: o200k_base\n", 10, 3, "encoding"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.tokenizer);
    const ConfigError error = parseError(gateway(models, c.tokenizer));
    EXPECT_EQ(error.where.file, kFile);
    EXPECT_EQ(error.where.line, c.line) << error.describe();
    EXPECT_EQ(error.where.column, c.column) << error.describe();
    EXPECT_NE(error.message.find(c.says), std::string::npos) << error.describe();
  }
}

// A custom file that is not a rank file is found when the configuration loads, not on the first
// request: the error names the model, the encoding and the file.
TEST(TokenizerConfig, ACorruptRankFileIsAnErrorWhenLoading) {
  TempFile corrupt("costgate-corrupt.tiktoken", "this is not base64!! 0\nIQ== one\n");
  const ConfigError error =
      parseError(gateway(R"(models:
  corp-llm:
    backend: mock
    encoding: corp
)",
                         "  encodings:\n    corp:\n      file: " + corrupt.path() + "\n"));
  EXPECT_EQ(error.where.line, 7);
  EXPECT_EQ(error.where.column, 15);
  EXPECT_NE(error.message.find("models.corp-llm.encoding: encoding 'corp'"), std::string::npos)
      << error.describe();
  EXPECT_NE(error.message.find(corrupt.path()), std::string::npos) << error.describe();
}

}  // namespace
}  // namespace costgate::config
