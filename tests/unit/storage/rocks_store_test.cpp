// What only the RocksDB store has: files, a lock, a format version, and a
// disk that can be damaged under it.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "storage/kv_store.hpp"
#include "storage/storage_test_util.hpp"

namespace roadmq::storage {
namespace {

namespace fs = std::filesystem;
using test::dump;
using test::TempDir;
using ::testing::HasSubstr;

RocksOptions small(const std::string& dir) {
  RocksOptions o;
  o.data_dir = dir;
  o.write_buffer_bytes = 1u << 20;
  o.block_cache_bytes = 1u << 20;
  o.max_background_jobs = 1;
  return o;
}

std::unique_ptr<KvStore> open_ok(const std::string& dir) {
  auto r = open_rocksdb(small(dir));
  EXPECT_TRUE(r.has_value()) << r.error().message;
  return r.has_value() ? std::move(r).value() : nullptr;
}

std::string open_error(const std::string& dir) {
  auto r = open_rocksdb(small(dir));
  EXPECT_FALSE(r.has_value()) << "open of " << dir << " unexpectedly succeeded";
  return r.has_value() ? std::string() : r.error().message;
}

void put(KvStore& store, Table t, const std::string& k, const std::string& v) {
  WriteBatch b;
  b.put(t, k, v);
  auto st = store.write(b, true);
  ASSERT_TRUE(st.has_value()) << st.error().message;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
}

std::vector<std::string> files_matching(const std::string& dir, const std::string& prefix, const std::string& suffix) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    const auto name = e.path().filename().string();
    if (name.starts_with(prefix) && name.ends_with(suffix)) out.push_back(e.path().string());
  }
  return out;
}

TEST(StorageRocks, DataSurvivesCloseAndReopen) {
  TempDir tmp;
  const auto dir = tmp.sub("data");
  {
    auto store = open_ok(dir);
    ASSERT_TRUE(store);
    WriteBatch b;
    for (int i = 0; i < 300; ++i) b.put(Table::outbound, "c1/" + std::to_string(1000 + i), "rec");
    b.put(Table::sessions, "c1", "session");
    b.put(Table::messages, message_key(9), "body");
    b.put(Table::retained, "a/b", "retained");
    ASSERT_TRUE(store->write(b, true).has_value());
    b.clear();
    b.erase_prefix(Table::outbound, "c1/11");
    b.erase(Table::retained, "a/b");
    ASSERT_TRUE(store->write(b, false).has_value());  // unsynced, but a clean close keeps it
  }
  auto store = open_ok(dir);
  ASSERT_TRUE(store);
  EXPECT_EQ(dump(*store, Table::outbound).size(), 200u);
  EXPECT_EQ(*store->get(Table::sessions, "c1").value(), "session");
  EXPECT_EQ(*store->get(Table::messages, message_key(9)).value(), "body");
  EXPECT_FALSE(store->get(Table::retained, "a/b").value().has_value());
}

TEST(StorageRocks, CreatesMissingDirsWritesLockAndFormat) {
  TempDir tmp;
  const auto dir = tmp.sub("a/b/c");
  auto store = open_ok(dir);
  ASSERT_TRUE(store);
  EXPECT_TRUE(fs::is_directory(dir));
  EXPECT_EQ(read_file(dir + "/roadmq.lock"), std::to_string(::getpid()) + "\n");
  EXPECT_EQ(*store->get(Table::meta, kFormatVersionKey).value(), std::to_string(kFormatVersion));
  EXPECT_GT(store->usage().disk_bytes, 0u);  // the WAL holding the format version
}

TEST(StorageRocks, SecondOpenInTheSameProcessIsRefused) {
  TempDir tmp;
  const auto dir = tmp.sub("data");
  auto first = open_ok(dir);
  ASSERT_TRUE(first);
  // flock() locks belong to the open file description, so this second open
  // conflicts although it comes from the same process.
  const auto msg = open_error(dir);
  EXPECT_THAT(msg, HasSubstr("data dir " + dir + " is in use by another roadmq (pid " +
                             std::to_string(::getpid()) + ")"));
  put(*first, Table::meta, "still", "works");  // the refused open did not disturb the owner
  first.reset();
  auto again = open_ok(dir);  // released with the store
  ASSERT_TRUE(again);
  EXPECT_EQ(*again->get(Table::meta, "still").value(), "works");
}

TEST(StorageRocks, SecondProcessIsRefused) {
  TempDir tmp;
  const auto dir = tmp.sub("data");
  int go[2];
  int result[2];
  ASSERT_EQ(::pipe(go), 0);
  ASSERT_EQ(::pipe(result), 0);
  // Forked before this process opens the store (no RocksDB threads yet);
  // the child waits for the parent to hold the lock, then tries itself.
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(go[1]);
    ::close(result[0]);
    char c;
    const bool told = ::read(go[0], &c, 1) == 1;
    std::string msg = "parent gave up";
    if (told) {
      auto r = open_rocksdb(small(dir));
      msg = r.has_value() ? "OPENED" : r.error().message;
    }
    const ssize_t n = ::write(result[1], msg.data(), msg.size());
    ::_exit(n == static_cast<ssize_t>(msg.size()) ? 0 : 1);
  }
  ::close(go[0]);
  ::close(result[1]);
  auto store = open_ok(dir);
  if (store) {
    const ssize_t n = ::write(go[1], "g", 1);
    EXPECT_EQ(n, 1);
  }
  ::close(go[1]);
  std::string msg;
  char buf[512];
  for (ssize_t n; (n = ::read(result[0], buf, sizeof buf)) > 0;) msg.append(buf, static_cast<std::size_t>(n));
  ::close(result[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ASSERT_TRUE(store);
  EXPECT_THAT(msg, HasSubstr("data dir " + dir + " is in use by another roadmq (pid " +
                             std::to_string(::getpid()) + ")"));
}

TEST(StorageRocks, StalePidFileOfADeadOwnerIsNoObstacle) {
  TempDir tmp;
  const auto dir = tmp.sub("data");
  fs::create_directories(dir);
  write_file(dir + "/roadmq.lock", "999999\n");  // left by a crashed broker: no flock held
  auto store = open_ok(dir);
  ASSERT_TRUE(store);
  EXPECT_EQ(read_file(dir + "/roadmq.lock"), std::to_string(::getpid()) + "\n");
}

TEST(StorageRocks, LockHeldWithoutPidSaysUnknown) {
  TempDir tmp;
  const auto dir = tmp.sub("data");
  fs::create_directories(dir);
  const auto lock_path = dir + "/roadmq.lock";
  const int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);
  EXPECT_THAT(open_error(dir), HasSubstr("is in use by another roadmq (pid unknown)"));
  ::close(fd);
}

TEST(StorageRocks, FormatVersionMismatchIsRefused) {
  TempDir tmp;
  const auto dir = tmp.sub("data");
  {
    auto store = open_ok(dir);
    ASSERT_TRUE(store);
    put(*store, Table::meta, std::string(kFormatVersionKey), std::to_string(kFormatVersion + 1));
  }
  EXPECT_EQ(open_error(dir), "data dir " + dir + " has format " + std::to_string(kFormatVersion + 1) +
                                 "; this roadmq reads format " + std::to_string(kFormatVersion));
  // The refused open released the lock and left the data alone.
  EXPECT_THAT(open_error(dir), HasSubstr("has format"));
}

TEST(StorageRocks, UnreadableFormatVersionIsRefused) {
  TempDir tmp;
  const auto dir = tmp.sub("data");
  {
    auto store = open_ok(dir);
    ASSERT_TRUE(store);
    put(*store, Table::meta, std::string(kFormatVersionKey), "one");
  }
  EXPECT_THAT(open_error(dir), HasSubstr("data dir " + dir + " has an unreadable format version"));
}

TEST(StorageRocks, DataWithoutFormatVersionIsRefused) {
  TempDir tmp;
  const auto dir = tmp.sub("data");
  {
    auto store = open_ok(dir);
    ASSERT_TRUE(store);
    put(*store, Table::sessions, "c1", "s");
    WriteBatch b;
    b.erase(Table::meta, kFormatVersionKey);
    ASSERT_TRUE(store->write(b, true).has_value());
  }
  EXPECT_THAT(open_error(dir), HasSubstr("data dir " + dir + " holds data but no format version"));
}

TEST(StorageRocks, GarbageCurrentFileIsAnErrorNotACrash) {
  TempDir tmp;
  const auto dir = tmp.sub("data");
  {
    auto store = open_ok(dir);
    ASSERT_TRUE(store);
    put(*store, Table::sessions, "c1", "s");
  }
  write_file(dir + "/CURRENT", "\x01\x02garbage without newline");
  const auto msg = open_error(dir);
  EXPECT_THAT(msg, HasSubstr("cannot open data dir " + dir + ": "));
  EXPECT_THAT(msg, HasSubstr("Corruption"));
}

TEST(StorageRocks, GarbageManifestIsAnErrorNotACrash) {
  TempDir tmp;
  const auto dir = tmp.sub("data");
  {
    auto store = open_ok(dir);
    ASSERT_TRUE(store);
    put(*store, Table::sessions, "c1", "s");
  }
  const auto manifests = files_matching(dir, "MANIFEST-", "");
  ASSERT_FALSE(manifests.empty());
  std::string garbage(4096, '\0');
  for (std::size_t i = 0; i < garbage.size(); ++i) garbage[i] = static_cast<char>((i * 7919) >> 3);
  for (const auto& m : manifests) write_file(m, garbage);
  const auto msg = open_error(dir);
  EXPECT_THAT(msg, HasSubstr("cannot open data dir " + dir + ": "));
  EXPECT_THAT(msg, HasSubstr("Corruption"));
}

TEST(StorageRocks, TruncatedTableFileIsAnErrorNotACrash) {
  TempDir tmp;
  const auto dir = tmp.sub("data");
  {
    auto store = open_ok(dir);
    ASSERT_TRUE(store);
    WriteBatch b;
    for (int i = 0; i < 2000; ++i) b.put(Table::outbound, "k" + std::to_string(i), std::string(100, 'x'));
    ASSERT_TRUE(store->write(b, true).has_value());
  }
  // Reopening replays the WAL into a table file (flush on recovery).
  ASSERT_TRUE(open_ok(dir));
  const auto tables = files_matching(dir, "", ".sst");
  ASSERT_FALSE(tables.empty());
  for (const auto& t : tables) fs::resize_file(t, fs::file_size(t) / 2);

  // Detected when the table is opened (at open, or at the first read that
  // needs it): either way a StoreError naming the dir, never a crash.
  auto r = open_rocksdb(small(dir));
  std::string msg;
  if (!r.has_value()) {
    msg = r.error().message;
  } else {
    auto st = (*r)->scan(Table::outbound, "", [](std::string_view, std::string_view) { return true; });
    ASSERT_FALSE(st.has_value());
    msg = st.error().message;
  }
  EXPECT_THAT(msg, HasSubstr(dir));
  EXPECT_THAT(msg, HasSubstr("Corruption"));
}

TEST(StorageRocks, LostCurrentFileIsRefusedRatherThanStartedEmpty) {
  TempDir tmp;
  const auto dir = tmp.sub("data");
  {
    auto store = open_ok(dir);
    ASSERT_TRUE(store);
    put(*store, Table::sessions, "c1", "s");
  }
  fs::remove(dir + "/CURRENT");
  const auto msg = open_error(dir);
  EXPECT_THAT(msg, HasSubstr("data dir " + dir + " has store files"));
  EXPECT_THAT(msg, HasSubstr("no CURRENT file"));
}

TEST(StorageRocks, UnusableDirsAreErrors) {
  TempDir tmp;
  write_file(tmp.sub("file"), "x");
  // A path through a regular file cannot be created, even by root.
  EXPECT_THAT(open_error(tmp.sub("file/data")), HasSubstr("cannot create data dir " + tmp.sub("file/data")));
  EXPECT_THAT(open_error(tmp.sub("file")), HasSubstr(tmp.sub("file")));
  EXPECT_EQ(open_error(""), "data dir is not set");
}

TEST(StorageRocks, ReadOnlyDataDirIsAnError) {
  if (::geteuid() == 0) GTEST_SKIP() << "root ignores directory permissions";
  TempDir tmp;
  const auto dir = tmp.sub("ro");
  fs::create_directories(dir);
  fs::permissions(dir, fs::perms::owner_read | fs::perms::owner_exec);
  EXPECT_THAT(open_error(dir), HasSubstr(dir));
  fs::permissions(dir, fs::perms::owner_all);
}

}  // namespace
}  // namespace roadmq::storage
