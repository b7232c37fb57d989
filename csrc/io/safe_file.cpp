#include "safe_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "cardionets/core.h"

namespace cardionets::io {

InputFile::InputFile(const std::string& path, bool follow_symlinks) : path_(path) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused just below.
  int flags = O_RDONLY | O_NONBLOCK | O_CLOEXEC;
  if (!follow_symlinks) flags |= O_NOFOLLOW;
  fd_ = ::open(path.c_str(), flags);
  if (fd_ < 0) throw Error(path + ": cannot open (" + std::strerror(errno) + ")");
  check_regular();
}

InputFile::InputFile(int fd, const std::string& path) : path_(path), fd_(fd) { check_regular(); }

void InputFile::check_regular() {
  struct stat st;
  if (::fstat(fd_, &st) != 0) {
    const int e = errno;
    ::close(fd_);
    fd_ = -1;
    throw Error(path_ + ": cannot stat (" + std::strerror(e) + ")");
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd_);
    fd_ = -1;
    throw Error(path_ + ": not a regular file");
  }
  size_ = static_cast<int64_t>(st.st_size);
}

int open_in_folder(const std::string& dir, const std::string& name) {
  const int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) throw Error(dir + ": cannot open the record's folder (" + std::strerror(errno) + ")");
  const int fd = ::openat(dfd, name.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
  const int err = errno;
  ::close(dfd);
  if (fd >= 0) return fd;
  if (err == ELOOP) return -1;
  throw Error(dir + name + ": cannot open (" + std::strerror(err) + ")");
}

InputFile::~InputFile() {
  if (fd_ >= 0) ::close(fd_);
}

void InputFile::read(int64_t offset, int64_t n, uint8_t* out) const {
  if (offset < 0 || n < 0 || offset > size_ || n > size_ - offset)
    throw Error(path_ + ": read of " + std::to_string(n) + " bytes at offset " + std::to_string(offset) +
                " is outside the file (" + std::to_string(size_) + " bytes)");
  int64_t done = 0;
  while (done < n) {
    const ssize_t got = ::pread(fd_, out + done, static_cast<size_t>(n - done), static_cast<off_t>(offset + done));
    if (got < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      throw Error(path_ + ": read error (" + std::strerror(errno) + ")");
    }
    if (got == 0) throw Error(path_ + ": file shrank while being read");
    done += got;
  }
}

std::string real_path(const std::string& path) {
  std::unique_ptr<char, decltype(&std::free)> r(::realpath(path.empty() ? "." : path.c_str(), nullptr), &std::free);
  return r ? std::string(r.get()) : std::string();
}

std::string dir_of(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash + 1);
}

}  // namespace cardionets::io
