// Private helpers of csrc/io: opening input files as a hostile-input reader must (regular files
// only, never blocking on a FIFO or device, sizes from fstat before any allocation) and keeping a
// file name inside a folder.
#pragma once

#include <cstdint>
#include <string>

namespace cardionets::io {

// An open, read-only, regular file. Throws cardionets::Error naming `path` when it cannot be
// opened or is not a regular file (directory, FIFO, device, socket).
class InputFile {
 public:
  explicit InputFile(const std::string& path, bool follow_symlinks = true);
  // Take over an open descriptor (closed by the destructor); `path` names it in messages.
  InputFile(int fd, const std::string& path);
  ~InputFile();
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;
  int64_t size() const { return size_; }
  const std::string& path() const { return path_; }
  // Exactly n bytes at offset (throws on a short read or an I/O error).
  void read(int64_t offset, int64_t n, uint8_t* out) const;

 private:
  void check_regular();  // fstat: refuse anything but a regular file, record the size
  std::string path_;
  int fd_ = -1;
  int64_t size_ = 0;
};

// `name` (no '/') opened read-only inside `dir` without following a symbolic link: a descriptor,
// -1 when `name` is a symbolic link (errno ELOOP), or throws Error for any other failure.
int open_in_folder(const std::string& dir, const std::string& name);

// The canonical absolute path (symlinks and ".." resolved), or "" when it does not exist.
std::string real_path(const std::string& path);

// The folder part of a path, with a trailing '/' ("" for a bare file name).
std::string dir_of(const std::string& path);

}  // namespace cardionets::io
